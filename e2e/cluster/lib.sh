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
# The edge (edge-up.sh): the Gateway API implementation and Prometheus, built from the modules pinned
# in e2e/tools/traefik and e2e/tools/prometheus (Prometheus 3.16 is module version v0.316.0).
TRAEFIK_VERSION="v3.6.12"
PROMETHEUS_VERSION="v3.16.0"
# KEDA for scale to zero (e2e/tools/keda, keda-http): the HTTP add-on release the Go module proxy
# serves here, and the KEDA core release that add-on is built against.
KEDA_VERSION="v2.14.1"
KEDA_HTTP_VERSION="v0.8.0"
# Bump when the build flags change so cached binaries are rebuilt.
BUILD_REVISION="1"

# The real node: one kubelet per machine (it owns ports 10250/10248 and its own root dirs).
NODE_NAME="modelship-node"
# Pods on the real node get addresses from this subnet (kwok's fake pods use 10.244.0.0/16).
NODE_POD_CIDR="10.85.0.0/24"
NODE_BRIDGE="mship0"
SERVICE_CIDR="10.96.0.0/16"
# kwok's fake pod and node addresses: nothing answers there, so no packet may leave for them.
KWOK_POD_CIDR="10.244.0.0/16"
KWOK_NODE_CIDR="10.0.0.0/23"
# Machine-wide state of the node: sockets and mounts need short, fixed paths.
NODE_RUN_DIR="/run/modelship-e2e"
NODE_LIB_DIR="/var/lib/modelship-e2e"
CONTAINERD_ADDRESS="$NODE_RUN_DIR/containerd/containerd.sock"
PAUSE_IMAGE="localhost/modelship/pause:3.10"

# The machine's own address (the default route's interface): the API server advertises it
# so pods reach it through the "kubernetes" Service, and the kubelet registers it.
# Reading the routing table sends nothing.
detect_host_ip() {
  local dev
  dev="$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')"
  [[ -n "$dev" ]] || dev="$(ip -4 -o addr show scope global | awk '{print $2; exit}')"
  ip -4 -o addr show dev "$dev" scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}'
}

# Ports bound on 127.0.0.1. Overridable so two checkouts can run side by side.
APISERVER_PORT="${E2E_APISERVER_PORT:-16443}"
ETCD_CLIENT_PORT="${E2E_ETCD_CLIENT_PORT:-12379}"
ETCD_PEER_PORT="${E2E_ETCD_PEER_PORT:-12380}"
KCM_PORT="${E2E_KCM_PORT:-10357}"
SCHEDULER_PORT="${E2E_SCHEDULER_PORT:-10359}"
KWOK_PORT="${E2E_KWOK_PORT:-10347}"
# The edge (edge-up.sh), with the real node only: the Gateway's listener and Prometheus listen on the
# machine's own address, Traefik's ping and metrics on loopback.
GATEWAY_PORT="${E2E_GATEWAY_PORT:-18080}"
TRAEFIK_ADMIN_PORT="${E2E_TRAEFIK_ADMIN_PORT:-18082}"
PROMETHEUS_PORT="${E2E_PROMETHEUS_PORT:-19090}"

CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
NODE_COMPONENTS=(containerd kubelet kube-proxy coredns)
EDGE_COMPONENTS=(traefik prometheus)

# The components the recorded cluster runs: the real node's only when it was started.
cluster_components() {
  local real=1
  [[ -f "$STATE_DIR/ports" ]] && real="$(sed -n 's/^REAL_NODE=//p' "$STATE_DIR/ports")"
  echo "${CONTROL_PLANE[@]}"
  [[ "${real:-1}" == 1 ]] && echo "${NODE_COMPONENTS[@]}" "${EDGE_COMPONENTS[@]}"
  return 0
}

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
      "$TOOLS_DIR/helm/go.mod" "$TOOLS_DIR/helm/go.sum" \
      "$TOOLS_DIR/coredns/go.mod" "$TOOLS_DIR/coredns/go.sum" "$TOOLS_DIR/coredns/main.go"
  } | hash_stdin
}

# An edge service's own cache (build-edge.sh): keyed by its pinned module, the Go version and this file's
# build settings.
edge_bin_dir() {
  local gov="none"
  if command -v go >/dev/null 2>&1; then gov="$(go env GOVERSION)"; fi
  echo "$E2E_HOME/bin/$1-$( {
    echo "$gov $(uname -m) $TRAEFIK_VERSION $PROMETHEUS_VERSION $KEDA_VERSION $KEDA_HTTP_VERSION"
    cat "$TOOLS_DIR/$1/go.mod" "$TOOLS_DIR/$1/go.sum" "$E2E_CLUSTER_DIR/build-edge.sh"
  } | hash_stdin)"
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

# wait_established KUBECTL_BIN CRD...: polls until each CRD is Established (60 s at most). `kubectl wait` on a
# CRD applied a moment before can fail with "status.conditions accessor error" instead of waiting.
wait_established() {
  local kubectl_bin="$1" t0=$SECONDS crd
  shift
  for crd in "$@"; do
    until [[ "$("$kubectl_bin" get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" == True ]]; do
      ((SECONDS - t0 < 60)) || die "the CRD $crd was not Established within 60 s"
      sleep 0.5
    done
  done
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
