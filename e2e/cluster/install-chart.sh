#!/usr/bin/env bash
# Installs (or upgrades) charts/modelship into the local cluster the way a platform team would (its CRDs
# first, then helm), with the settings this cluster needs (e2e/cluster/values-local.yaml: no volume
# provisioner here), and waits until the controller and the collector pods are Ready.
#   bash e2e/cluster/install-chart.sh [RELEASE] [NAMESPACE] [helm flags...]
# E2E_CHART=DIR|TGZ installs another chart (a packaged release, an older version) instead of charts/modelship.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
release="${1:-modelship}"
namespace="${2:-modelship-system}"
shift $(($# < 2 ? $# : 2))
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_PATH}"
bin_dir="$(cat "$STATE_DIR/bin-dir" 2>/dev/null || resolve_bin_dir)"
helm_bin="$bin_dir/helm"
[[ -x "$helm_bin" ]] || helm_bin=helm

# Helm installs a chart's CRDs once and never upgrades them: apply this chart's first, as a platform team
# would (docs/install.md, "Upgrading, and the CRD"). Another chart (E2E_CHART, an older release) keeps the cluster's.
if [[ -z "${E2E_CHART:-}" ]]; then
  kubectl_bin="$bin_dir/kubectl"
  [[ -x "$kubectl_bin" ]] || kubectl_bin=kubectl
  "$kubectl_bin" apply --server-side --force-conflicts -f "$REPO_ROOT/charts/modelship/crds/" >/dev/null
  wait_established "$kubectl_bin" modeldeployments.modelship.io
fi

"$helm_bin" upgrade --install "$release" "${E2E_CHART:-$REPO_ROOT/charts/modelship}" \
  --namespace "$namespace" --create-namespace \
  --values "$E2E_CLUSTER_DIR/values-local.yaml" \
  --wait --timeout 5m "$@"
log "Installed the chart as release $release in namespace $namespace."
