#!/usr/bin/env bash
# The main job, end to end on real pods: the local cluster (a real node beside kwok's GPU nodes),
# the image, the Helm chart, the quick-start iris classifier, a real prediction through its
# Service, that request's InferenceEvent from the collector, and a drift run on shifted traffic.
#   npm run demo                    builds what it needs on first use (see README for the times)
#   DEMO_KEEP=0 npm run demo        stops the cluster at the end (default: left running to explore)
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/cluster/lib.sh

t0=$SECONDS
step_start=$SECONDS
step() {
  if ((SECONDS > t0)); then printf '    (%s)\n' "$(fmt_elapsed $((SECONDS - step_start)))"; fi
  step_start=$SECONDS
  printf '\n==> [%s] %s\n' "$(fmt_elapsed $((SECONDS - t0)))" "$*"
}
ns=default
release=modelship
system_ns=modelship-system

step "Starting the local cluster (npm run cluster:up)"
bash e2e/cluster/up.sh
export KUBECONFIG="$KUBECONFIG_PATH"
PATH="$(cat "$STATE_DIR/bin-dir"):$PATH"
export PATH

step "Building the image and loading it into the node (npm run image)"
bash scripts/image.sh
bash e2e/cluster/load-images.sh

step "Installing the chart: the CRD, the controller and the collector as pods"
bash e2e/cluster/install-chart.sh "$release" "$system_ns"
kubectl get pods -n "$system_ns" -o wide

step "Putting the iris model into the cluster's model store and applying examples/quickstart-cpu.yaml"
bash scripts/model-store.sh "$ns"
kubectl apply -f examples/quickstart-cpu.yaml

step "Waiting until md/iris is Ready (its pods' real readiness probes)"
kubectl wait md/iris -n "$ns" --for=condition=Ready --timeout=300s
kubectl get md iris -n "$ns"
kubectl get pods -n "$ns" -l modelship.io/deployment=iris -o wide

step "A prediction through the Service: a flower of Fisher's data set (row 1: setosa)"
svc="$(kubectl get svc iris -n "$ns" -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')"
body='{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}'
echo "POST http://$svc/v2/models/iris/infer  $body"
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
# kube-proxy programs the new endpoints a moment after Ready: retry for a little while.
for attempt in $(seq 1 30); do
  curl -fsS --max-time 10 -D "$headers" -H 'content-type: application/json' -d "$body" \
    "http://$svc/v2/models/iris/infer" && break
  ((attempt < 30)) || { echo "no answer through the Service within 30 s" >&2; exit 1; }
  sleep 1
done
echo
event_id="$(sed -n 's/^x-modelship-event-id: *\([^[:space:]]*\).*/\1/Ip' "$headers" | tr -d '\r')"
echo "label 0 is setosa (classes: setosa, versicolor, virginica); event id: $event_id"

step "That request's InferenceEvent, as the collector stores it"
collector="$(kubectl get svc "$release-collector" -n "$system_ns" -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')"
# the collector's API takes the token the chart generated (a Secret); model pods and drift jobs mount it
token="$(kubectl get secret "$release-collector-token" -n "$system_ns" -o jsonpath='{.data.token}' | base64 -d)"
since="$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)"
event=""
for _ in $(seq 1 30); do
  event="$(curl -fsS --max-time 5 -H "authorization: Bearer $token" "http://$collector/v1/events?model=iris&since=$since" | grep -F "\"$event_id\"" || true)"
  [[ -n "$event" ]] && break
  sleep 1
done
[[ -n "$event" ]] || { echo "the event $event_id did not reach the collector within 30 s" >&2; exit 1; }
node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]), null, 2))' "$event"

step "Shifted traffic (sepal length +3 cm, 300 requests), then a drift run started now from the CronJob"
node scripts/send-iris.mjs "http://$svc" 300 3
cronjob="$(kubectl get cronjob -n "$ns" -l modelship.io/deployment=iris -o jsonpath='{.items[0].metadata.name}')"
kubectl delete job iris-drift-now -n "$ns" --ignore-not-found >/dev/null
kubectl create job iris-drift-now -n "$ns" --from="cronjob/$cronjob"
kubectl wait job/iris-drift-now -n "$ns" --for=condition=Complete --timeout=300s
kubectl logs -n "$ns" job/iris-drift-now --tail=3 || true

step "The verdict"
kubectl get md iris -n "$ns" -o wide
node bin/modelship.js status iris -n "$ns"

step "Done in $(fmt_elapsed $((SECONDS - t0)))"
echo "Explore:  eval \"\$(bash e2e/cluster/env.sh)\"; kubectl get md,pods -A; node bin/modelship.js status iris"
if [[ "${DEMO_KEEP:-1}" == 0 ]]; then bash e2e/cluster/down.sh; else echo "Stop it:  npm run cluster:down"; fi
