#!/usr/bin/env bash
# Starts the e2e cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kwok with fake GPU/CPU nodes, and one real worker node on this machine (containerd,
# kubelet, kube-proxy, CoreDNS; see node-up.sh) where CPU pods really run.
# E2E_REAL_NODE=0 leaves the real node out (no root needed; every pod is simulated).
# Idempotent: a healthy running cluster is left alone; a half-started one from a
# killed run is cleaned up first. Writes the admin kubeconfig to .e2e/kubeconfig.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start=$SECONDS

# --- An existing cluster: reuse when healthy, clean up when half-started. ---
if [[ -d "$STATE_DIR" ]]; then
  all_alive=1
  for c in $(cluster_components); do
    pid_alive "$(read_pid "$c" || true)" || all_alive=0
  done
  if [[ $all_alive == 1 ]] && bash "$E2E_CLUSTER_DIR/status.sh" --quiet; then
    log "Cluster is already running; nothing to do."
    bash "$E2E_CLUSTER_DIR/env.sh" --hint
    exit 0
  fi
  log "Found a half-started or stopped cluster from an earlier run in $STATE_DIR; cleaning it up first."
  bash "$E2E_CLUSTER_DIR/down.sh"
fi

REAL_NODE="${E2E_REAL_NODE:-1}"
if [[ $REAL_NODE == 1 ]]; then
  [[ $(id -u) == 0 ]] || die "the real node (containerd, kubelet) needs root: run as root, or E2E_REAL_NODE=0 npm run cluster:up
  for a cluster whose pods are all simulated by kwok."
  bash "$E2E_CLUSTER_DIR/host-packages.sh"
  HOST_IP="$(detect_host_ip)"
  [[ -n "$HOST_IP" ]] || die "found no IPv4 address of this machine (ip -4 addr) for the node and the API server."
  # A node from a run that was killed before down: clean up what it left on the host. One that
  # another checkout's running cluster owns stays, and this cluster cannot have one.
  if [[ -d "$NODE_LIB_DIR" || -d "$NODE_RUN_DIR" ]]; then
    owned=0
    bash "$E2E_CLUSTER_DIR/node-down.sh" || owned=$?
    [[ $owned == 3 ]] && die "another e2e cluster's real node runs on this machine ($(cat "$NODE_RUN_DIR/owner")).
  Stop that cluster first (npm run cluster:down in its checkout), or start this one without a real node:
  E2E_REAL_NODE=0 npm run cluster:up"
  fi
else
  # Published as the "kubernetes" Service endpoint only (loopback is not a valid endpoint
  # address); without a real node no pod runs to use it, and nothing listens there.
  HOST_IP="10.0.0.2"
fi

# --- Ports: checked before any (long) build; fail clearly instead of "address in use". ---
PORT_SPECS=("kube-apiserver:$APISERVER_PORT:E2E_APISERVER_PORT" "etcd:$ETCD_CLIENT_PORT:E2E_ETCD_CLIENT_PORT"
  "etcd peer:$ETCD_PEER_PORT:E2E_ETCD_PEER_PORT" "kube-controller-manager:$KCM_PORT:E2E_KCM_PORT"
  "kube-scheduler:$SCHEDULER_PORT:E2E_SCHEDULER_PORT" "kwok:$KWOK_PORT:E2E_KWOK_PORT")
# The real node's ports are fixed: one real node per machine.
if [[ $REAL_NODE == 1 ]]; then
  PORT_SPECS+=("kubelet:10250:" "kubelet healthz:10248:" "kube-proxy:10256:"
    "the Gateway (Traefik):$GATEWAY_PORT:E2E_GATEWAY_PORT" "Traefik's ping:$TRAEFIK_ADMIN_PORT:E2E_TRAEFIK_ADMIN_PORT"
    "Prometheus:$PROMETHEUS_PORT:E2E_PROMETHEUS_PORT")
fi
for spec in "${PORT_SPECS[@]}"; do
  IFS=: read -r what port var <<<"$spec"
  if port_in_use "$port"; then
    holder="$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\(.*\))).*/\1/p' | head -1)"
    hint=""
    [[ -n "$var" ]] && hint=", or pick another port: $var=<free port> npm run cluster:up"
    die "port $port on 127.0.0.1 (wanted by $what) is already in use${holder:+ by $holder}.
  Stop whatever listens there$hint
  (another checkout's e2e cluster? run npm run cluster:down there)."
  fi
done

# --- Binaries: cached by version key, built on first use. ---
BIN_DIR="$(resolve_bin_dir)"
if [[ ! -f "$BIN_DIR/.complete" ]]; then
  BIN_DIR="$(bash "$E2E_CLUSTER_DIR/build.sh")"
fi
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl kubelet kube-proxy coredns; do
  [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b is missing; remove $BIN_DIR and run npm run cluster:up to rebuild."
done
if [[ $REAL_NODE == 1 ]]; then
  TRAEFIK_BIN="$(bash "$E2E_CLUSTER_DIR/build-edge.sh" traefik)"
  PROMETHEUS_BIN="$(bash "$E2E_CLUSTER_DIR/build-edge.sh" prometheus)"
fi

mkdir -p "$PID_DIR" "$LOG_DIR"
echo "$BIN_DIR" >"$STATE_DIR/bin-dir"
# Record the ports so status/down/env work even when run with other env settings.
cat >"$STATE_DIR/ports" <<PORTS
APISERVER_PORT=$APISERVER_PORT
ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
KWOK_PORT=$KWOK_PORT
GATEWAY_PORT=$GATEWAY_PORT
TRAEFIK_ADMIN_PORT=$TRAEFIK_ADMIN_PORT
PROMETHEUS_PORT=$PROMETHEUS_PORT
REAL_NODE=$REAL_NODE
HOST_IP=$HOST_IP
PORTS

failed() {
  local what="$1" c="${2:-}"
  if [[ -n "$c" && -f "$LOG_DIR/$c.log" ]]; then
    echo "----- last lines of $c's log -----" >&2
    tail -n 25 "$LOG_DIR/$c.log" >&2
    echo "-----" >&2
  fi
  log "Cluster start failed: $what. Stopping what was started (logs kept in $E2E_HOME/logs-last)."
  bash "$E2E_CLUSTER_DIR/down.sh" >&2 || true
  exit 1
}
trap 'failed "interrupted"' INT TERM
trap 'failed "the step at up.sh line $LINENO failed"' ERR

# start_component <name> <executable> <args...>: runs detached in its own session so the
# cluster outlives this script; the pid and executable are recorded for down.sh.
start_component() {
  local name="$1" exe="$2"
  shift 2
  setsid "$exe" "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$name.pid"
  echo "$exe" >"$PID_DIR/$name.exe"
}

# wait_until <component> <description> <timeout seconds> <command...>
wait_until() {
  local c="$1" what="$2" timeout="$3"
  shift 3
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    pid_alive "$(read_pid "$c")" || failed "$c exited while waiting for $what" "$c"
    ((SECONDS - t0 < timeout)) || failed "timed out after ${timeout}s waiting for $what" "$c"
    sleep 0.5
  done
  log "$what ($(fmt_elapsed $((SECONDS - start))))"
}

PKI="$STATE_DIR/pki"
log "Creating certificates and service-account keys."
bash "$E2E_CLUSTER_DIR/pki.sh" "$PKI" "$HOST_IP"

# kubeconfig <file> <user cert name>: client-certificate kubeconfig with data embedded.
kubeconfig() {
  local file="$1" user="$2"
  cat >"$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: modelship-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$user.crt")
    client-key-data: $(base64 -w0 "$PKI/$user.key")
contexts:
- name: modelship-e2e
  context:
    cluster: modelship-e2e
    user: $user
current-context: modelship-e2e
KCFG
  chmod 600 "$file"
}
for u in kube-controller-manager kube-scheduler kwok; do kubeconfig "$STATE_DIR/$u.kubeconfig" "$u"; done
kubeconfig "$STATE_DIR/admin.kubeconfig" admin

# --- etcd ---
log "Starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT."
# --unsafe-no-fsync: the data is thrown away with the cluster; fsync only slows CI disks.
start_component etcd "$BIN_DIR/etcd" \
  --name=e2e --data-dir="$STATE_DIR/etcd" \
  --listen-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
  --cert-file="$PKI/etcd-server.crt" --key-file="$PKI/etcd-server.key" \
  --trusted-ca-file="$PKI/ca.crt" --client-cert-auth=true \
  --unsafe-no-fsync=true --log-level=warn
etcd_healthy() {
  curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" --key "$PKI/apiserver-etcd-client.key" \
    "https://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'
}
wait_until etcd "etcd is healthy" 90 etcd_healthy

# --- kube-apiserver ---
log "Starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT."
start_component kube-apiserver "$BIN_DIR/kube-apiserver" \
  --advertise-address="$HOST_IP" --bind-address="$([[ $REAL_NODE == 1 ]] && echo 0.0.0.0 || echo 127.0.0.1)" \
  --secure-port="$APISERVER_PORT" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --enable-admission-plugins=PodNodeSelector,PodTolerationRestriction \
  --etcd-servers="https://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-cafile="$PKI/ca.crt" \
  --etcd-certfile="$PKI/apiserver-etcd-client.crt" --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --authorization-mode=Node,RBAC --allow-privileged=true \
  --profiling=false --v=1
api() { curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$APISERVER_PORT$1"; }
wait_until kube-apiserver "kube-apiserver is ready" 180 api /readyz

KUBECTL=("$BIN_DIR/kubectl" --kubeconfig="$STATE_DIR/admin.kubeconfig")

# Third-party CRDs install in the background while the rest starts (the slowest step).
crd_pid=""
if [[ "${E2E_SKIP_CRDS:-}" != "1" ]]; then
  KUBECONFIG="$STATE_DIR/admin.kubeconfig" bash "$E2E_CLUSTER_DIR/install-crds.sh" >"$LOG_DIR/install-crds.log" 2>&1 &
  crd_pid=$!
fi

# --- kube-controller-manager ---
log "Starting kube-controller-manager and kube-scheduler."
start_component kube-controller-manager "$BIN_DIR/kube-controller-manager" \
  --kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --client-ca-file="$PKI/ca.crt" --root-ca-file="$PKI/ca.crt" \
  --service-account-private-key-file="$PKI/sa.key" --use-service-account-credentials=true \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --cluster-name=modelship-e2e --service-cluster-ip-range=10.96.0.0/16 \
  --controllers='*' --leader-elect=false --terminated-pod-gc-threshold=100 \
  --profiling=false --v=1

# --- kube-scheduler ---
start_component kube-scheduler "$BIN_DIR/kube-scheduler" \
  --kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --client-ca-file="$PKI/ca.crt" \
  --leader-elect=false --profiling=false --v=1

healthz() { curl -fsSk "https://127.0.0.1:$1/healthz"; }
wait_until kube-controller-manager "kube-controller-manager is healthy" 120 healthz "$KCM_PORT"
wait_until kube-scheduler "kube-scheduler is healthy" 120 healthz "$SCHEDULER_PORT"

# --- kwok and the fake nodes ---
"${KUBECTL[@]}" create clusterrolebinding modelship-e2e:kwok --clusterrole=cluster-admin \
  --user=modelship-e2e:kwok >/dev/null
log "Starting kwok."
start_component kwok "$BIN_DIR/kwok" \
  --kubeconfig="$STATE_DIR/kwok.kubeconfig" \
  --config="$E2E_CLUSTER_DIR/kwok/stages.yaml" \
  --server-address="127.0.0.1:$KWOK_PORT"
wait_until kwok "kwok is serving" 90 curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz"

"${KUBECTL[@]}" apply -f "$E2E_CLUSTER_DIR/nodes.yaml" >/dev/null
nodes_ready() {
  local n
  n="$("${KUBECTL[@]}" get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')"
  [[ "$n" == "$(grep -c '^kind: Node' "$E2E_CLUSTER_DIR/nodes.yaml")" ]]
}
wait_until kwok "all fake nodes are Ready" 120 nodes_ready
# Pods can only be created once the service-account controller made "default".
wait_until kube-controller-manager "the default ServiceAccount exists" 120 \
  "${KUBECTL[@]}" get serviceaccount default -n default

if [[ $REAL_NODE == 1 ]]; then
  # shellcheck source=node-up.sh
  source "$E2E_CLUSTER_DIR/node-up.sh"
fi

cp "$STATE_DIR/admin.kubeconfig" "$KUBECONFIG_PATH"
chmod 600 "$KUBECONFIG_PATH"

if [[ -n "$crd_pid" ]]; then
  wait "$crd_pid" || failed "installing the Gateway API and Istio CRDs failed" install-crds
  tail -n 1 "$LOG_DIR/install-crds.log" >&2
fi
if [[ $REAL_NODE == 1 ]]; then
  # shellcheck source=edge-up.sh
  source "$E2E_CLUSTER_DIR/edge-up.sh"
fi

trap - INT TERM ERR
log "Cluster is up in $(fmt_elapsed $((SECONDS - start))): Kubernetes $KUBE_VERSION at https://127.0.0.1:$APISERVER_PORT"
bash "$E2E_CLUSTER_DIR/env.sh" --hint
