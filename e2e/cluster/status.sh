#!/usr/bin/env bash
# Shows whether the e2e cluster runs: each component's pid (the real node's too), API
# server readiness, version, nodes (the real one and kwok's) and the node's system pods. Exit 0 when healthy. --quiet: exit code only.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_recorded_ports

quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1
say() { [[ $quiet == 1 ]] || echo "$@"; }

if [[ ! -d "$STATE_DIR" ]]; then
  say "e2e cluster: not running (start it with npm run cluster:up)"
  exit 1
fi
healthy=0
for c in $(cluster_components); do
  pid="$(read_pid "$c" || true)"
  if pid_alive "$pid"; then
    say "  $c: running (pid $pid)"
  else
    say "  $c: NOT running${pid:+ (pid $pid exited)}; log: $LOG_DIR/$c.log"
    healthy=1
  fi
done
PKI="$STATE_DIR/pki"
if ready="$(curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz" 2>/dev/null)" && [[ "$ready" == ok ]]; then
  say "  kube-apiserver: ready at https://127.0.0.1:$APISERVER_PORT"
else
  say "  kube-apiserver: NOT ready at https://127.0.0.1:$APISERVER_PORT"
  healthy=1
fi
if [[ $healthy == 0 && "${REAL_NODE:-1}" == 1 ]]; then
  node_ready="$("$(cat "$STATE_DIR/bin-dir")/kubectl" --kubeconfig="$KUBECONFIG_PATH" get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)"
  if [[ "$node_ready" == True ]]; then
    say "  real node $NODE_NAME: Ready"
  else
    say "  real node $NODE_NAME: NOT Ready (kubelet log: $LOG_DIR/kubelet.log)"
    healthy=1
  fi
fi
if [[ $quiet == 0 && $healthy == 0 ]]; then
  bin_dir="$(cat "$STATE_DIR/bin-dir")"
  "$bin_dir/kubectl" --kubeconfig="$KUBECONFIG_PATH" version 2>/dev/null | sed 's/^/  /'
  "$bin_dir/kubectl" --kubeconfig="$KUBECONFIG_PATH" get nodes -o wide -L type,nvidia.com/gpu.product 2>/dev/null |
    sed 's/^/  /'
  if [[ "${REAL_NODE:-1}" == 1 ]]; then
    say "  real node $NODE_NAME: runs CPU pods (containerd at $CONTAINERD_ADDRESS, pods in $NODE_POD_CIDR, DNS at $HOST_IP:53);"
    say "  kwok nodes (type=kwok) only simulate pods: GPU pods are scheduled there, never run."
    "$bin_dir/kubectl" --kubeconfig="$KUBECONFIG_PATH" get pods -A -o wide --field-selector spec.nodeName="$NODE_NAME" 2>/dev/null |
      sed 's/^/  /'
  fi
  say "  kubeconfig: $KUBECONFIG_PATH"
fi
if [[ $healthy == 0 ]]; then say "e2e cluster: healthy"; else say "e2e cluster: UNHEALTHY (npm run cluster:down, then npm run cluster:up)"; fi
exit $healthy
