#!/usr/bin/env bash
# Exposes a folder of this machine to one namespace of the local cluster as the PVC "model-store",
# so a ModelDeployment there can say  uri: pvc://model-store/<path inside the folder>.
#   npm run model-store -- NAMESPACE          the folder is .e2e/models (MODELSHIP_MODELS_DIR overrides)
# The folder gets the quick start's iris model when it lacks one (scripts/example-models.ts).
# A hostPath PersistentVolume, read-only, bound to that one claim: pods on the real node read the files.
set -euo pipefail
cd "$(dirname "$0")/.."
ns="${1:?usage: npm run model-store -- NAMESPACE}"
dir="$(realpath -m "${MODELSHIP_MODELS_DIR:-.e2e/models}")"
mkdir -p "$dir"
if [[ ! -f "$dir/iris/1.0.0/baseline.json" || ! -f "$dir/iris/broken/model.onnx" ]]; then
  node --import tsx scripts/example-models.ts "$dir" >/dev/null
fi
# Pods run as uid 65532: every folder must be searchable and every file readable.
chmod -R a+rX "$dir"

kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" >/dev/null
pv="model-store-$ns"
kubectl apply -f - <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels: { modelship.io/model-store: "true" }
spec:
  capacity: { storage: 10Gi }
  accessModes: [ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: { namespace: $ns, name: model-store }
  hostPath: { path: $dir, type: Directory }
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: model-store, namespace: $ns }
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  volumeName: $pv
  resources: { requests: { storage: 10Gi } }
YAML
kubectl wait --for=jsonpath='{.status.phase}'=Bound "pvc/model-store" -n "$ns" --timeout=60s >/dev/null
echo "model-store in namespace $ns serves $dir (pvc://model-store/...)"
