#!/usr/bin/env bash
# Removes what keda-up.sh installed: first every ScaledObject and HTTPScaledObject (while the operators
# that own their finalizers still run), then the components, the APIService and the CRDs. The image stays
# in the node's containerd (it goes with the node). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_PATH}"
bin_dir="$(cat "$STATE_DIR/bin-dir" 2>/dev/null || resolve_bin_dir)"
KUBECTL=("$bin_dir/kubectl")
for kind in httpscaledobjects.http.keda.sh scaledobjects.keda.sh scaledjobs.keda.sh; do
  "${KUBECTL[@]}" delete "$kind" --all-namespaces --all --ignore-not-found --wait --timeout=60s >/dev/null 2>&1 || true
done
sed "s|KEDA_IMAGE|unused|" "$E2E_CLUSTER_DIR/keda/keda.yaml" |
  "${KUBECTL[@]}" delete --ignore-not-found --wait --timeout=120s -f - >/dev/null
"${KUBECTL[@]}" get crd -o name | grep -E '\.(keda\.sh|http\.keda\.sh|eventing\.keda\.sh)$' |
  xargs -r "${KUBECTL[@]}" delete --ignore-not-found --wait --timeout=60s >/dev/null
log "Removed KEDA and its HTTP add-on."
