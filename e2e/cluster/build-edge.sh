#!/usr/bin/env bash
# Builds one of the e2e cluster's edge services from the Go module pinned in e2e/tools/<name> into
# .e2e/bin/<name>-<key>/<name>, or does nothing when that is built. Each has its own cache key, so a
# bump rebuilds neither the control plane nor the other one.
#   bash e2e/cluster/build-edge.sh traefik      the Gateway API implementation
#   bash e2e/cluster/build-edge.sh prometheus   with only Kubernetes service discovery linked in
#                                               (Debian's package leaves Kubernetes discovery out)
#   bash e2e/cluster/build-edge.sh keda         KEDA's operator and metrics adapter
#   bash e2e/cluster/build-edge.sh keda-http    KEDA's HTTP add-on: operator, interceptor, scaler
# Prints the binary's path on stdout (for keda and keda-http, the folder holding the binaries, each
# named after its package); progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${1:-}"
case "$name" in
  traefik)
    version="$TRAEFIK_VERSION" pkg=github.com/traefik/traefik/v3/cmd/traefik tags=""
    ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
    ;;
  prometheus)
    version="$PROMETHEUS_VERSION" pkg=github.com/prometheus/prometheus/cmd/prometheus
    tags="remove_all_sd,enable_kubernetes_sd,netgo"
    ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}"
    ;;
  keda)
    version="$KEDA_VERSION" tags="" ldflags="-s -w -X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION"
    pkg="github.com/kedacore/keda/v2/cmd/operator github.com/kedacore/keda/v2/cmd/adapter"
    ;;
  keda-http)
    version="$KEDA_HTTP_VERSION" tags="" ldflags="-s -w"
    pkg="github.com/kedacore/http-add-on/operator github.com/kedacore/http-add-on/interceptor github.com/kedacore/http-add-on/scaler"
    ;;
  *) die "usage: build-edge.sh traefik|prometheus|keda|keda-http" ;;
esac
dir="$(edge_bin_dir "$name")"
# One package builds a binary named after the tool; several build one binary each into the folder.
read -r -a pkgs <<<"$pkg"
target="$dir/$name" out="$dir.partial/$name"
if ((${#pkgs[@]} > 1)); then target="$dir" out="$dir.partial/"; fi

if [[ -f "$dir/.complete" || ( -x "$dir/$name" ) ]]; then
  echo "$target"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "the Go toolchain is needed to build $name $version (e2e/tools/$name); install Go >= 1.26."

mkdir -p "$dir.partial"
BUILD_LOG="$E2E_HOME/build-$name.log"
: >"$BUILD_LOG"
start=$SECONDS
log "Building $name $version from e2e/tools/$name (first build: 5-15 min on a 2-core machine; later runs reuse $dir)."
(
  while sleep 30; do log "  ... still building $name ($(fmt_elapsed $((SECONDS - start))))"; done
) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
if ! (cd "$TOOLS_DIR/$name" && CGO_ENABLED=0 go build -p "${E2E_BUILD_PARALLEL:-2}" -trimpath -tags "$tags" \
  -ldflags "$ldflags" -o "$out" "${pkgs[@]}") >>"$BUILD_LOG" 2>&1; then
  tail -n 30 "$BUILD_LOG" >&2
  die "building $name failed (full log: $BUILD_LOG). Check access to the Go module proxy (GOPROXY=$(go env GOPROXY))."
fi
touch "$dir.partial/.complete"
rm -rf "$dir"
mv "$dir.partial" "$dir"
log "Built $name in $(fmt_elapsed $((SECONDS - start))) into $dir"
echo "$target"
