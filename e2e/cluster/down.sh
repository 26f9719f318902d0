#!/usr/bin/env bash
# Stops every process cluster:up started (by recorded pid, after checking the pid
# still runs our binary) and removes the cluster state and kubeconfig. Keeps the
# cached binaries and the last logs (.e2e/logs-last). Safe to run any time.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -d "$STATE_DIR" ]]; then
  rm -f "$KUBECONFIG_PATH"
  log "No e2e cluster state found; nothing to stop."
  exit 0
fi

# ours <pid> <name>: the pid still runs <name> from our bin dir (pids get reused).
ours() {
  local exe
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
  [[ "$(basename "$exe")" == "$2" && "$exe" == "$E2E_HOME/bin/"* ]]
}

status=0
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  c="${COMPONENTS[$i]}"
  pid="$(read_pid "$c" || true)"
  [[ -n "$pid" ]] || continue
  if ! pid_alive "$pid"; then
    continue
  fi
  if ! ours "$pid" "$c"; then
    log "pid $pid recorded for $c now belongs to another program; leaving it alone."
    continue
  fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 40); do
    pid_alive "$pid" || break
    sleep 0.25
  done
  if pid_alive "$pid"; then
    log "$c (pid $pid) did not stop within 10s; sending SIGKILL."
    kill -KILL "$pid" 2>/dev/null
    sleep 0.5
  fi
  if pid_alive "$pid"; then
    log "Could not stop $c (pid $pid)."
    status=1
  else
    log "Stopped $c (pid $pid)."
  fi
done

if [[ $status == 0 ]]; then
  rm -rf "$E2E_HOME/logs-last"
  [[ -d "$LOG_DIR" ]] && mv "$LOG_DIR" "$E2E_HOME/logs-last"
  rm -rf "$STATE_DIR"
  rm -f "$KUBECONFIG_PATH"
  log "Removed the cluster state (last logs kept in $E2E_HOME/logs-last)."
fi
exit $status
