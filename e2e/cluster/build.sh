#!/usr/bin/env bash
# Builds the e2e control-plane binaries from the pinned Go modules in e2e/tools
# into .e2e/bin/<version-key>/, or does nothing when that cache is complete.
# Prints the bin dir on stdout; progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v go >/dev/null 2>&1; then
  die "the Go toolchain is not on PATH and no cached binaries were found under $E2E_HOME/bin.
  Install Go >= 1.26 (https://go.dev/doc/install) and re-run, or point E2E_BIN_DIR at a folder
  holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kubectl and helm,
  or run the e2e tests against another cluster: E2E_USE_EXISTING=1 KUBECONFIG=... npm run test:e2e"
fi
gov="$(go env GOVERSION)"
if [[ "$(printf '%s\n' go1.26 "$gov" | sort -V | head -1)" != "go1.26" ]]; then
  die "Go $gov is too old: Kubernetes $KUBE_VERSION needs Go >= 1.26. Install a newer Go and re-run."
fi

BIN_DIR="$(resolve_bin_dir)"
if [[ -f "$BIN_DIR/.complete" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$E2E_HOME/bin"
BUILD_LOG="$E2E_HOME/build.log"
TMP_DIR="$BIN_DIR.partial"
mkdir -p "$TMP_DIR"
: >"$BUILD_LOG"

# -p 2 keeps peak memory near 4 GiB on small CI machines; GOFLAGS from the
# environment still apply (e.g. -mod=mod is not needed: go.sum is committed).
PARALLEL="${E2E_BUILD_PARALLEL:-2}"
export CGO_ENABLED=0

kube_date="$(date -u -d "$(go mod download -json k8s.io/kubernetes@$KUBE_VERSION 2>/dev/null |
  sed -n 's/.*"Time": "\(.*\)".*/\1/p' | head -1)" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo 1970-01-01T00:00:00Z)"
kube_major="${KUBE_VERSION#v}"
kube_minor="${kube_major#*.}"
kube_minor="${kube_minor%%.*}"
kube_major="${kube_major%%.*}"
KUBE_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE_LDFLAGS+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$kube_major -X $pkg.gitMinor=$kube_minor"
  KUBE_LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$kube_date"
done

helm_client_go="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$TOOLS_DIR/helm/go.mod" | head -1)"
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  HELM_LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${helm_client_go:-36}"
done
KWOK_LDFLAGS="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBE_VERSION"

# name|module dir|package|ldflags
TARGETS=(
  "etcd|$TOOLS_DIR|./etcd|-s -w"
  "kube-apiserver|$TOOLS_DIR|k8s.io/kubernetes/cmd/kube-apiserver|$KUBE_LDFLAGS"
  "kube-controller-manager|$TOOLS_DIR|k8s.io/kubernetes/cmd/kube-controller-manager|$KUBE_LDFLAGS"
  "kube-scheduler|$TOOLS_DIR|k8s.io/kubernetes/cmd/kube-scheduler|$KUBE_LDFLAGS"
  "kubectl|$TOOLS_DIR|k8s.io/kubernetes/cmd/kubectl|$KUBE_LDFLAGS"
  "kubelet|$TOOLS_DIR|k8s.io/kubernetes/cmd/kubelet|$KUBE_LDFLAGS"
  "kube-proxy|$TOOLS_DIR|k8s.io/kubernetes/cmd/kube-proxy|$KUBE_LDFLAGS"
  "coredns|$TOOLS_DIR/coredns|.|-s -w"
  "kwok|$TOOLS_DIR/kwok|sigs.k8s.io/kwok/cmd/kwok|$KWOK_LDFLAGS"
  "helm|$TOOLS_DIR/helm|helm.sh/helm/v3/cmd/helm|$HELM_LDFLAGS"
)

start=$SECONDS
log "Building the e2e control plane (Kubernetes $KUBE_VERSION, kwok $KWOK_VERSION, helm $HELM_VERSION) with $gov."
log "First build downloads ~1.3 GiB of modules and compiles the control plane, the node (kubelet, kube-proxy, CoreDNS), kwok and helm (13-23 min on a 2-core machine); later runs reuse $BIN_DIR."
log "Full output: $BUILD_LOG"

ticker_pid=""
stop_ticker() { [[ -n "$ticker_pid" ]] && kill "$ticker_pid" 2>/dev/null && wait "$ticker_pid" 2>/dev/null || true; ticker_pid=""; }
trap stop_ticker EXIT

i=0
for t in "${TARGETS[@]}"; do
  IFS='|' read -r name dir pkg ldflags <<<"$t"
  i=$((i + 1))
  if [[ -x "$TMP_DIR/$name" ]]; then
    log "[$i/${#TARGETS[@]}] $name already built in an earlier, interrupted run"
    continue
  fi
  log "[$i/${#TARGETS[@]}] Building $name (elapsed $(fmt_elapsed $((SECONDS - start))))"
  step_start=$SECONDS
  (
    while sleep 30; do
      log "  ... still building $name ($(fmt_elapsed $((SECONDS - step_start))) on this step, $(fmt_elapsed $((SECONDS - start))) total)"
    done
  ) &
  ticker_pid=$!
  echo "=== $name: go build $pkg" >>"$BUILD_LOG"
  if ! (cd "$dir" && go build -p "$PARALLEL" -trimpath -tags timetzdata \
    -ldflags "$ldflags" -o "$TMP_DIR/$name.tmp" "$pkg") >>"$BUILD_LOG" 2>&1; then
    stop_ticker
    tail -n 30 "$BUILD_LOG" >&2
    die "building $name failed (full log: $BUILD_LOG). Check network access to the Go module proxy (GOPROXY=$(go env GOPROXY))."
  fi
  stop_ticker
  mv "$TMP_DIR/$name.tmp" "$TMP_DIR/$name"
done

{
  echo "kubernetes=$KUBE_VERSION"
  echo "kwok=$KWOK_VERSION"
  echo "helm=$HELM_VERSION"
  echo "go=$gov"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$TMP_DIR/VERSIONS"
touch "$TMP_DIR/.complete"
rm -rf "$BIN_DIR"
mv "$TMP_DIR" "$BIN_DIR"
log "Built all binaries in $(fmt_elapsed $((SECONDS - start))) into $BIN_DIR"
echo "$BIN_DIR"
