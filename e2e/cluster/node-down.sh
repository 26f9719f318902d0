#!/usr/bin/env bash
# Undoes what the real node did to this machine, after down.sh stopped its processes (or
# after a run that was killed): container processes, mounts, network namespaces and
# devices, iptables rules and chains, cgroups, sysctls, and the node's state folders.
# Safe to run any time; each step only touches what carries the node's names.
# The node is machine-wide: a node that another checkout's running cluster owns (another
# E2E_HOME whose kubelet is alive) is left alone, with exit code 3.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -d "$NODE_LIB_DIR" || -d "$NODE_RUN_DIR" ]] || exit 0
[[ $(id -u) == 0 ]] || die "cleaning up the real node needs root."

owner="$(cat "$NODE_RUN_DIR/owner" 2>/dev/null || true)"
if [[ -n "$owner" && "$owner" != "$STATE_DIR" ]]; then
  kubelet_pid="$(cat "$owner/pids/kubelet.pid" 2>/dev/null || true)"
  if pid_alive "$kubelet_pid" && [[ "$(readlink "/proc/$kubelet_pid/exe" 2>/dev/null)" == */kubelet ]]; then
    log "The real node on this machine belongs to the running cluster in $owner; leaving it alone."
    exit 3
  fi
fi

# Processes still running in pod cgroups: containers outlive containerd and their shims.
kill_pod_processes() {
  local f pid n=0
  for f in $(find /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/unified/kubepods /sys/fs/cgroup/kubepods \
    -name cgroup.procs 2>/dev/null); do
    while read -r pid; do
      [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
    done <"$f"
  done
  echo "$n"
}
# Shims of our containerd (found by the socket address on their command line).
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_ADDRESS" 2>/dev/null); do
  kill -KILL "$pid" 2>/dev/null
done
killed="$(kill_pod_processes)"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  [[ "$(kill_pod_processes)" == 0 ]] && break
  sleep 0.3
done
((killed > 0)) && log "Killed $killed container processes left on the node."

# Network namespaces of pod sandboxes, then the bridge (their veths go with them).
for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do ip netns delete "$ns" 2>/dev/null; done
ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link delete "$NODE_BRIDGE"

# Mounts under the node's folders, deepest first (kubelet bind-mounts its root onto itself).
unmount_under() {
  local dir="$1" m
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    ((${#mounts[@]} == 0)) && return 0
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  done
}
unmount_under "$NODE_LIB_DIR"
unmount_under "$NODE_RUN_DIR"
for m in $(awk '$5 ~ "^/run/netns/cni-" {print $5}' /proc/self/mountinfo); do umount -l "$m" 2>/dev/null; done

# iptables: every rule that is in or jumps to a chain of kubelet, kube-proxy, the CNI
# plugins or our guard, then those chains themselves.
OURS='^(KUBE-|CNI-|MODELSHIP-E2E-)'
for ipt in iptables iptables-legacy iptables-nft; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle raw; do
    "$ipt" -t "$table" -S 2>/dev/null | awk -v re="$OURS" '
      $1 == "-A" && ($2 !~ re) && /-j (KUBE-|CNI-|MODELSHIP-E2E-)/ { $1 = "-D"; print }' |
      while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null; done
    chains="$("$ipt" -t "$table" -S 2>/dev/null | awk -v re="$OURS" '$1 == "-N" && $2 ~ re {print $2}')"
    for c in $chains; do "$ipt" -t "$table" -F "$c" 2>/dev/null; done
    for c in $chains; do "$ipt" -t "$table" -X "$c" 2>/dev/null; done
  done
done
# The bridge plugin's masquerade rules point at per-container CNI- chains (removed above).

# cgroups kubelet and containerd made (every hierarchy), deepest first.
for root in /sys/fs/cgroup/*/; do
  for top in kubepods k8s.io; do
    [[ -d "$root$top" ]] && find "$root$top" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done

# sysctls back to the values recorded before the node first started.
if [[ -f "$NODE_LIB_DIR/sysctl.saved" ]]; then
  while IFS='=' read -r k v; do
    [[ -n "$k" ]] && sysctl -qw "$k=$v" 2>/dev/null
  done <"$NODE_LIB_DIR/sysctl.saved"
fi

rm -rf "$NODE_RUN_DIR"
rm -rf "$NODE_LIB_DIR" 2>/dev/null || {
  unmount_under "$NODE_LIB_DIR"
  rm -rf "$NODE_LIB_DIR"
}
log "Removed the real node's containers, mounts, network devices, iptables rules, cgroups and sysctls."
exit 0
