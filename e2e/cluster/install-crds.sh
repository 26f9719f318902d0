#!/usr/bin/env bash
# Installs third-party CRDs the rollout work needs, taken from published Go
# modules pinned in e2e/tools/crds (never hand-written): Gateway API
# (standard channel, or E2E_GATEWAY_API_CHANNEL=experimental) and Istio's
# networking/security CRDs. Idempotent (server-side apply); works against any
# cluster in $KUBECONFIG (default: the e2e cluster's .e2e/kubeconfig).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

channel="${E2E_GATEWAY_API_CHANNEL:-standard}"
[[ "$channel" == standard || "$channel" == experimental ]] ||
  die "E2E_GATEWAY_API_CHANNEL must be standard or experimental, not '$channel'."
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_PATH}"

mod_version() { sed -n "s|^[[:space:]]*$1 \(v[^ ]*\).*|\1|p" "$TOOLS_DIR/crds/go.mod" | head -1; }
gw_version="$(mod_version sigs.k8s.io/gateway-api)"
istio_version="$(mod_version istio.io/api)"

# The YAML is copied out of the module cache once, so later runs need no Go.
crd_root="$E2E_HOME/crds"
gw_dir="$crd_root/gateway-api-$gw_version-$channel"
istio_dir="$crd_root/istio-api-$istio_version"
module_dir() {
  command -v go >/dev/null 2>&1 ||
    die "the Go toolchain is needed once to fetch $1 (pinned in e2e/tools/crds/go.mod); install Go >= 1.26."
  (cd "$TOOLS_DIR/crds" && go mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}
if [[ ! -d "$gw_dir" ]]; then
  src="$(module_dir sigs.k8s.io/gateway-api)"
  [[ -d "$src/config/crd/$channel" ]] || die "sigs.k8s.io/gateway-api@$gw_version has no config/crd/$channel."
  mkdir -p "$gw_dir.tmp"
  cp "$src/config/crd/$channel/"*.yaml "$gw_dir.tmp/"
  rm -f "$gw_dir.tmp/kustomization.yaml"
  chmod -R u+w "$gw_dir.tmp"
  mv "$gw_dir.tmp" "$gw_dir"
fi
if [[ ! -d "$istio_dir" ]]; then
  src="$(module_dir istio.io/api)"
  mkdir -p "$istio_dir.tmp"
  cp "$src/kubernetes/customresourcedefinitions.gen.yaml" "$istio_dir.tmp/istio-crds.yaml"
  chmod -R u+w "$istio_dir.tmp"
  mv "$istio_dir.tmp" "$istio_dir"
fi

kubectl="kubectl"
if [[ -f "$STATE_DIR/bin-dir" ]]; then
  kubectl="$(cat "$STATE_DIR/bin-dir")/kubectl"
elif [[ -x "$(resolve_bin_dir)/kubectl" ]]; then
  kubectl="$(resolve_bin_dir)/kubectl"
fi

# Server-side apply: Istio's CRDs are too large for the last-applied annotation.
applied_out="$("$kubectl" apply --server-side --force-conflicts --field-manager=modelship-e2e -o name \
  -f "$gw_dir" -f "$istio_dir")"
mapfile -t applied <<<"$applied_out"
crds=()
for a in "${applied[@]}"; do
  [[ "$a" == customresourcedefinition.* ]] && crds+=("$a")
done
# kubectl wait fails at once on a CRD whose status has no conditions yet: retry until it can wait.
for attempt in $(seq 1 60); do
  "$kubectl" wait --for=condition=Established --timeout=120s "${crds[@]}" >/dev/null 2>&1 && break
  ((attempt < 60)) || "$kubectl" wait --for=condition=Established --timeout=1s "${crds[@]}" >/dev/null
  sleep 1
done
log "Installed ${#crds[@]} CRDs: Gateway API $gw_version ($channel) and Istio API $istio_version."
