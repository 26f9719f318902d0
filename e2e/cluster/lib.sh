# Shared settings and helpers for the e2e cluster scripts. Sourced, not run.
# shellcheck shell=bash

E2E_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_CLUSTER_DIR/../.." && pwd)"
TOOLS_DIR="$REPO_ROOT/e2e/tools"
E2E_HOME="${E2E_HOME:-$REPO_ROOT/.e2e}"
STATE_DIR="$E2E_HOME/cluster"
PID_DIR="$STATE_DIR/pids"
LOG_DIR="$STATE_DIR/logs"
KUBECONFIG_PATH="$E2E_HOME/kubeconfig"

# Pinned versions; the Go modules under e2e/tools are the source of truth.
KUBE_VERSION="v1.36.3"
KWOK_VERSION="v0.8.0"
HELM_VERSION="v3.22.0"
# Bump when the build flags change so cached binaries are rebuilt.
BUILD_REVISION="1"

# Published as the "kubernetes" Service endpoint (loopback is not a valid endpoint
# address); nothing listens there: every component binds 127.0.0.1 only.
APISERVER_ADVERTISE_ADDRESS="10.0.0.2"

# Ports bound on 127.0.0.1. Overridable so two checkouts can run side by side.
APISERVER_PORT="${E2E_APISERVER_PORT:-16443}"
ETCD_CLIENT_PORT="${E2E_ETCD_CLIENT_PORT:-12379}"
ETCD_PEER_PORT="${E2E_ETCD_PEER_PORT:-12380}"
KCM_PORT="${E2E_KCM_PORT:-10357}"
SCHEDULER_PORT="${E2E_SCHEDULER_PORT:-10359}"
KWOK_PORT="${E2E_KWOK_PORT:-10347}"

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[e2e %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  printf '[e2e] error: %s\n' "$*" >&2
  exit 1
}

# Seconds -> "3m05s".
fmt_elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

hash_stdin() { sha256sum | cut -c1-12; }

# The cache key covers everything that changes the binaries: pinned modules,
# the etcd main, the Go toolchain version and the build flags.
version_key() {
  local gov="none"
  if command -v go >/dev/null 2>&1; then gov="$(go env GOVERSION)"; fi
  {
    echo "$gov $BUILD_REVISION $KUBE_VERSION $KWOK_VERSION $HELM_VERSION $(uname -m)"
    cat "$TOOLS_DIR/go.mod" "$TOOLS_DIR/go.sum" "$TOOLS_DIR/etcd/main.go" \
      "$TOOLS_DIR/kwok/go.mod" "$TOOLS_DIR/kwok/go.sum" \
      "$TOOLS_DIR/helm/go.mod" "$TOOLS_DIR/helm/go.sum"
  } | hash_stdin
}

# Without Go we can still run from a previously built cache: pick the newest
# complete bin dir for this Kubernetes version.
resolve_bin_dir() {
  if [[ -n "${E2E_BIN_DIR:-}" ]]; then
    echo "$E2E_BIN_DIR"
    return
  fi
  if command -v go >/dev/null 2>&1; then
    echo "$E2E_HOME/bin/kube-$KUBE_VERSION-$(version_key)"
    return
  fi
  local d
  d="$(ls -1dt "$E2E_HOME/bin/kube-$KUBE_VERSION-"*/ 2>/dev/null | while read -r x; do
    [[ -f "$x/.complete" ]] && echo "${x%/}" && break
  done)"
  echo "${d:-$E2E_HOME/bin/kube-$KUBE_VERSION-nogo}"
}

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

read_pid() {
  local f="$PID_DIR/$1.pid"
  [[ -f "$f" ]] && cat "$f"
}

# True when something already listens on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# status/down/env follow the ports the running cluster was started with.
load_recorded_ports() {
  if [[ -f "$STATE_DIR/ports" ]]; then
    # shellcheck disable=SC1091
    source "$STATE_DIR/ports"
  fi
}
