#!/usr/bin/env bash
# The local demo: a real control plane (or your KUBECONFIG), the CRD, the controller, the quick-start model.
#   npm run demo                         bundled e2e cluster (built on first use, ~15-25 min cold)
#   KUBECONFIG=~/.kube/config npm run demo   any cluster you point it at
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n==> %s\n' "$*"; }

if [[ -z "${KUBECONFIG:-}" ]]; then
  say "Starting the local control plane (npm run cluster:up)"
  bash e2e/cluster/up.sh
  export KUBECONFIG="$PWD/.e2e/kubeconfig"
  export PATH="$(cat .e2e/cluster/bin-dir):$PATH"
fi
command -v kubectl >/dev/null || { echo "kubectl not found on PATH" >&2; exit 1; }

say "Installing the ModelDeployment CRD"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established crd/modeldeployments.modelship.io --timeout=60s

say "Starting the controller (logs: .e2e/controller.log)"
mkdir -p .e2e
node bin/modelship.js controller --leader-elect=false --metrics-bind-address 127.0.0.1:18080 >.e2e/controller.log 2>&1 &
ctl=$!
trap 'kill $ctl 2>/dev/null || true' EXIT

say "Applying examples/quickstart-cpu.yaml"
kubectl apply -f examples/quickstart-cpu.yaml
for i in $(seq 1 60); do
  kubectl get md iris -n default
  ready=$(kubectl get md iris -n default -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')
  [[ "$ready" == "True" ]] && break
  sleep 2
done
say "Children of md/iris"
kubectl get deploy,svc,pdb,pods -n default -l modelship.io/deployment=iris
say "Done. Try: kubectl describe md iris; curl -s 127.0.0.1:18080/metrics | grep modelship_reconciles"
if [[ "${DEMO_KEEP:-}" == "1" ]]; then wait $ctl; fi
