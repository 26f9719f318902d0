#!/usr/bin/env bash
# Creates the e2e cluster's certificates and keys with openssl: one CA, serving
# certs for etcd and kube-apiserver, client certs per component (the real node's
# kubelet, kube-proxy and CoreDNS included), and the service-account signing key.
# Usage: pki.sh <dir> <the machine's address>
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$1"
host_ip="$2"
mkdir -p "$dir"
cd "$dir"
command -v openssl >/dev/null 2>&1 || die "openssl is not on PATH; install it (e.g. apt-get install openssl) and re-run."

# EC P-256 keys: fast to create and accepted everywhere Kubernetes checks keys.
newkey() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }

newkey ca
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=modelship-e2e-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out ca.crt 2>/dev/null

# sign <name> <subject> <extendedKeyUsage> [subjectAltName]
sign() {
  local name="$1" subj="$2" eku="$3" san="${4:-}"
  newkey "$name"
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA "${SIGNING_CA:-ca}.crt" -CAkey "${SIGNING_CA:-ca}.key" -CAcreateserial -sha256 -days 365 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

# Front-proxy CA: authenticates the API server to aggregated API servers (requestheader).
newkey front-proxy-ca
openssl req -x509 -new -key front-proxy-ca.key -sha256 -days 3650 -subj "/CN=modelship-e2e-front-proxy-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out front-proxy-ca.crt 2>/dev/null

sign etcd-server "/CN=etcd-server" serverAuth "IP:127.0.0.1,DNS:localhost"
sign apiserver-etcd-client "/CN=kube-apiserver-etcd-client" clientAuth
sign apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:$host_ip,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
# The admin is a real client certificate in system:masters (as kubeadm's admin.conf was).
sign admin "/O=system:masters/CN=modelship-e2e-admin" clientAuth
sign kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
sign kube-scheduler "/CN=system:kube-scheduler" clientAuth
# kwok gets its rights from a ClusterRoleBinding created by up.sh, not from a group.
sign kwok "/CN=modelship-e2e:kwok" clientAuth
# The real node: kubelet (Node authorizer identity), kube-proxy (bound to system:node-proxier
# by the default RBAC policy), CoreDNS (its ClusterRole comes from up.sh), and the API
# server's client for the kubelet API (logs, exec, port-forward).
sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
sign kube-proxy "/CN=system:kube-proxy" clientAuth
sign coredns "/CN=modelship-e2e:coredns" clientAuth
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
SIGNING_CA=front-proxy-ca sign front-proxy-client "/CN=front-proxy-client" clientAuth

newkey sa
openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
chmod 600 ./*.key
