#!/usr/bin/env bash
# Stops every process cluster:up started (by recorded pid, after checking the pid
# still runs our binary), undoes what the real node changed on the machine
# (node-down.sh) and removes the cluster state and kubeconfig. Keeps the cached
# binaries, images and the last logs (.e2e/logs-last). Safe to run any time.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -d "$STATE_DIR" ]]; then
  rm -f "$KUBECONFIG_PATH"
  # Leftovers of a killed run's node (another running cluster's node is left alone).
  bash "$E2E_CLUSTER_DIR/node-down.sh" >/dev/null 2>&1
  log "No e2e cluster state found; nothing to stop."
  exit 0
fi

# ours <pid> <name>: the pid still runs <name> from the bin dir the cluster was
# started with (pids get reused).
started_bin_dir="$(cat "$STATE_DIR/bin-dir" 2>/dev/null || echo "$E2E_HOME/bin")"
ours() {
  local exe recorded
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
  recorded="$(cat "$PID_DIR/$2.exe" 2>/dev/null)"
  [[ -n "$recorded" && "$exe" == "$recorded" ]] && return 0
  [[ "$(basename "$exe")" == "$2" && ( "$exe" == "$started_bin_dir/"* || "$exe" == "$E2E_HOME/bin/"* ) ]]
}

# stop <component...>: SIGTERM together, then wait up to 15s, then SIGKILL.
status=0
stop() {
  local c pid pids=() names=()
  for c in "$@"; do
    pid="$(read_pid "$c" || true)"
    [[ -n "$pid" ]] && pid_alive "$pid" || continue
    if ! ours "$pid" "$c"; then
      log "pid $pid recorded for $c now belongs to another program; leaving it alone."
      continue
    fi
    kill -TERM "$pid" 2>/dev/null
    pids+=("$pid")
    names+=("$c")
  done
  local i t
  for i in "${!pids[@]}"; do
    for t in $(seq 1 60); do
      pid_alive "${pids[$i]}" || break
      sleep 0.25
    done
    if pid_alive "${pids[$i]}"; then
      log "${names[$i]} (pid ${pids[$i]}) did not stop within 15s; sending SIGKILL."
      kill -KILL "${pids[$i]}" 2>/dev/null
      sleep 0.5
    fi
    if pid_alive "${pids[$i]}"; then
      log "Could not stop ${names[$i]} (pid ${pids[$i]})."
      status=1
    else
      log "Stopped ${names[$i]} (pid ${pids[$i]})."
    fi
  done
}
# The edge first, then the node (its pods are killed by node-down.sh, not drained), then the control
# plane's clients, etcd last so the API server can close its storage cleanly.
stop prometheus traefik
stop coredns kube-proxy kubelet
stop containerd
node_status=0
bash "$E2E_CLUSTER_DIR/node-down.sh" || node_status=$?
# 3: the node belongs to another running cluster (this one ran without one, or lost it).
[[ $node_status == 0 || $node_status == 3 ]] || status=1
stop kwok kube-scheduler kube-controller-manager kube-apiserver
stop etcd

if [[ $status == 0 ]]; then
  rm -rf "$E2E_HOME/logs-last"
  [[ -d "$LOG_DIR" ]] && mv "$LOG_DIR" "$E2E_HOME/logs-last"
  rm -rf "$STATE_DIR"
  rm -f "$KUBECONFIG_PATH"
  log "Removed the cluster state (last logs kept in $E2E_HOME/logs-last)."
fi
exit $status
