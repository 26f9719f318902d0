# The real worker node, started by up.sh once the API server is ready: containerd with
# runc and the Debian CNI plugins, kubelet, kube-proxy (iptables mode) and CoreDNS.
# Sourced by up.sh (it uses start_component, wait_until, failed, KUBECTL, PKI, BIN_DIR).
# What it changes on the host is recorded under $NODE_LIB_DIR and undone by node-down.sh.
# shellcheck shell=bash

NODE_STATE="$STATE_DIR/node"
mkdir -p "$NODE_STATE" "$NODE_RUN_DIR" "$NODE_LIB_DIR"
# Which cluster owns the machine's one real node: node-down.sh leaves another cluster's alone.
echo "$STATE_DIR" >"$NODE_RUN_DIR/owner"

# --- Host settings: record the values before the first change, so down restores them. ---
# kubelet sets the kernel.* and vm.* values itself; kube-proxy is told below to leave
# conntrack and route_localnet alone, but they are recorded all the same.
HOST_SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables kernel.panic kernel.panic_on_oops
  vm.overcommit_memory vm.panic_on_oom net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)
if [[ ! -f "$NODE_LIB_DIR/sysctl.saved" ]]; then
  for k in "${HOST_SYSCTLS[@]}"; do
    v="$(sysctl -n "$k" 2>/dev/null)" && printf '%s=%s\n' "$k" "$v"
  done >"$NODE_LIB_DIR/sysctl.saved.tmp"
  mv "$NODE_LIB_DIR/sysctl.saved.tmp" "$NODE_LIB_DIR/sysctl.saved"
fi
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true

# --- The guard: no packet of the local cluster leaves the machine. ---
# Pods may talk to each other, to Services and to this machine; kwok's fake pod and node
# addresses exist nowhere, so a Service endpoint that is a fake pod must not route out.
# mangle POSTROUTING sees the address after kube-proxy's DNAT and before masquerading.
iptables -t mangle -N MODELSHIP-E2E-GUARD 2>/dev/null || iptables -t mangle -F MODELSHIP-E2E-GUARD
iptables -t mangle -A MODELSHIP-E2E-GUARD -d "$KWOK_POD_CIDR" -j DROP
iptables -t mangle -A MODELSHIP-E2E-GUARD -d "$KWOK_NODE_CIDR" -j DROP
iptables -t mangle -A MODELSHIP-E2E-GUARD -s "$NODE_POD_CIDR" ! -o "$NODE_BRIDGE" -j DROP
iptables -t mangle -C POSTROUTING -j MODELSHIP-E2E-GUARD 2>/dev/null ||
  iptables -t mangle -I POSTROUTING 1 -j MODELSHIP-E2E-GUARD

# --- CNI: one bridge, host-local addresses, portmap, loopback. ---
mkdir -p "$NODE_LIB_DIR/cni"
cat >"$NODE_LIB_DIR/cni/10-modelship-e2e.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "modelship-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$NODE_POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$NODE_RUN_DIR/cni-ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
CNI

# --- containerd (Debian's 1.6 with runc; see docs/development.md for why not 2.x). ---
cat >"$NODE_STATE/containerd.toml" <<TOML
version = 2
root = "$NODE_LIB_DIR/containerd"
state = "$NODE_RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CONTAINERD_ADDRESS"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_LIB_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj would fail every sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_LIB_DIR/cni"
TOML
log "Starting containerd (socket $CONTAINERD_ADDRESS)."
start_component containerd /usr/bin/containerd --config "$NODE_STATE/containerd.toml"
CTR=(ctr --address "$CONTAINERD_ADDRESS" -n k8s.io)
wait_until containerd "containerd is serving" 60 "${CTR[@]}" version

# --- The pause image, built here: no registry is reachable. ---
bash "$E2E_CLUSTER_DIR/pause-image.sh" "$BIN_DIR" >>"$LOG_DIR/pause-image.log" 2>&1 ||
  failed "building the pause image failed" pause-image
"${CTR[@]}" images import "$E2E_HOME/images/pause.tar" >>"$LOG_DIR/pause-image.log" 2>&1 ||
  failed "importing the pause image into containerd failed" pause-image
# Images npm run image built before this cluster existed, under the names pods use.
bash "$E2E_CLUSTER_DIR/load-images.sh" >>"$LOG_DIR/images.log" 2>&1 ||
  log "Could not load the built images (see $LOG_DIR/images.log); npm run image && bash e2e/cluster/load-images.sh"

# --- kubelet ---
kubeconfig "$NODE_STATE/kubelet.kubeconfig" kubelet
kubeconfig "$NODE_STATE/kube-proxy.kubeconfig" kube-proxy
kubeconfig "$NODE_STATE/coredns.kubeconfig" coredns
mkdir -p "$NODE_LIB_DIR/kubelet" "$NODE_LIB_DIR/pod-logs"
cat >"$NODE_STATE/kubelet.yaml" <<KUBELET
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (hybrid) and PID 1 is not systemd on these machines.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_ADDRESS
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
clusterDomain: cluster.local
clusterDNS: ["$HOST_IP"]
# Pods get no resolver of the host's: names outside the cluster are not looked up anywhere.
resolvConf: ""
podLogsDir: $NODE_LIB_DIR/pod-logs
serializeImagePulls: false
# How often the kubelet syncs each pod, which is also how soon a changed ConfigMap reaches its volume (the
# variants ConfigMap: a promoted canary's variant, a setMirror step's target). Default 1m; tests wait less.
syncFrequency: 10s
maxPods: 60
evictionHard: { memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2% }
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
KUBELET
log "Starting kubelet as node $NODE_NAME ($HOST_IP)."
start_component kubelet "$BIN_DIR/kubelet" --config="$NODE_STATE/kubelet.yaml" \
  --kubeconfig="$NODE_STATE/kubelet.kubeconfig" --root-dir="$NODE_LIB_DIR/kubelet" \
  --hostname-override="$NODE_NAME" --node-ip="$HOST_IP" \
  --node-labels="modelship.io/e2e-node=real" --v=1
node_ready() {
  [[ "$("${KUBECTL[@]}" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_until kubelet "node $NODE_NAME is Ready" 120 node_ready

# --- kube-proxy (iptables mode) ---
cat >"$NODE_STATE/kube-proxy.yaml" <<PROXY
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $NODE_STATE/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
clusterCIDR: $NODE_POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts on the machine's address only: no route_localnet, no loopback NodePorts.
nodePortAddresses: ["$HOST_IP/32"]
iptables: { localhostNodePorts: false }
# Leave the machine's conntrack settings as they are.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
PROXY
log "Starting kube-proxy (iptables mode)."
start_component kube-proxy "$BIN_DIR/kube-proxy" --config="$NODE_STATE/kube-proxy.yaml" --v=1
wait_until kube-proxy "kube-proxy is healthy" 60 curl -fsS "http://127.0.0.1:10256/healthz"

# --- CoreDNS on the machine's address: cluster names for pods, nothing else. ---
"${KUBECTL[@]}" apply -f - >/dev/null <<RBAC
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "modelship-e2e:coredns" }
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "modelship-e2e:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "modelship-e2e:coredns" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "modelship-e2e:coredns" }]
RBAC
cat >"$NODE_STATE/Corefile" <<COREFILE
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
  bind $HOST_IP
  ready 127.0.0.1:18181
  errors
  loadbalance
  cache 5
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $NODE_STATE/coredns.kubeconfig modelship-e2e
    pods insecure
  }
}
COREFILE
log "Starting CoreDNS on $HOST_IP:53."
start_component coredns "$BIN_DIR/coredns" -conf "$NODE_STATE/Corefile"
wait_until coredns "CoreDNS is ready" 60 curl -fsS "http://127.0.0.1:18181/ready"
