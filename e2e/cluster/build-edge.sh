#!/usr/bin/env bash
# Builds one of the e2e cluster's edge services from the Go module pinned in e2e/tools/<name> into
# .e2e/bin/<name>-<key>/<name>, or does nothing when that is built. Each has its own cache key, so a
# bump rebuilds neither the control plane nor the other one.
#   bash e2e/cluster/build-edge.sh traefik      the Gateway API implementation
#   bash e2e/cluster/build-edge.sh prometheus   with only Kubernetes service discovery linked in
#                                               (Debian's package leaves Kubernetes discovery out)
# Prints the binary's path on stdout; progress goes to stderr.
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
  *) die "usage: build-edge.sh traefik|prometheus" ;;
esac

dir="$(edge_bin_dir "$name")"
if [[ -x "$dir/$name" ]]; then
  echo "$dir/$name"
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
  -ldflags "$ldflags" -o "$dir.partial/$name" "$pkg") >>"$BUILD_LOG" 2>&1; then
  tail -n 30 "$BUILD_LOG" >&2
  die "building $name failed (full log: $BUILD_LOG). Check access to the Go module proxy (GOPROXY=$(go env GOPROXY))."
fi
rm -rf "$dir"
mv "$dir.partial" "$dir"
log "Built $name in $(fmt_elapsed $((SECONDS - start))) into $dir"
echo "$dir/$name"
