#!/usr/bin/env bash
# Installs the Debian packages the real node and the image build need, when missing:
# containerd and runc (the container runtime), the CNI plugins, iptables and conntrack
# (kube-proxy), buildah (images without a registry), gcc's static libc (the pause image).
# Needs root; does nothing when everything is there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# binary|package
NEEDED=(
  "/usr/bin/containerd|containerd"
  "/usr/sbin/runc|runc"
  "/usr/lib/cni/bridge|containernetworking-plugins"
  "/usr/sbin/iptables|iptables"
  "/usr/sbin/conntrack|conntrack"
  "/usr/bin/buildah|buildah"
  "/usr/bin/gcc|gcc"
  "/usr/lib/x86_64-linux-gnu/libc.a|libc6-dev"
)
missing=()
for n in "${NEEDED[@]}"; do
  IFS='|' read -r file pkg <<<"$n"
  [[ -e "$file" ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

[[ $(id -u) == 0 ]] || die "the real node needs these Debian packages: ${missing[*]}.
  Install them as root (apt-get install ${missing[*]}) or run npm run cluster:up as root."
command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them; install them by hand."
log "Installing Debian packages for the real node: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$E2E_HOME" # on a fresh checkout this runs before anything else made it
if ! apt-get install -y --no-install-recommends "${missing[@]}" >"$E2E_HOME/apt.log" 2>&1; then
  apt-get update >>"$E2E_HOME/apt.log" 2>&1
  apt-get install -y --no-install-recommends "${missing[@]}" >>"$E2E_HOME/apt.log" 2>&1 ||
    die "apt-get install ${missing[*]} failed; see $E2E_HOME/apt.log"
fi
log "Installed ${missing[*]}"
