#!/usr/bin/env bash
# Runs the e2e tests (e2e/**/*.test.ts) one file at a time against a real cluster.
#   npm run test:e2e                   bundled cluster: started if needed, stopped afterwards
#                                      when this run started it (KEEP_CLUSTER=1 keeps it)
#   npm run test:e2e -- smoke          only test files whose path contains "smoke"
#   E2E_USE_EXISTING=1 KUBECONFIG=~/.kube/config npm run test:e2e
#                                      any other cluster (kind, minikube, cloud); nothing started
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"
cd "$REPO_ROOT"

start=$SECONDS
started_here=0
if [[ "${E2E_USE_EXISTING:-}" == "1" ]]; then
  [[ -n "${KUBECONFIG:-}" && -r "${KUBECONFIG%%:*}" ]] ||
    die "E2E_USE_EXISTING=1 needs KUBECONFIG set to a readable kubeconfig of the cluster to test."
  export E2E_KUBECONFIG="$KUBECONFIG"
  log "Running e2e tests against the existing cluster in $KUBECONFIG."
else
  if ! bash e2e/cluster/status.sh --quiet; then
    bash e2e/cluster/up.sh
    started_here=1
  else
    log "Reusing the running e2e cluster."
  fi
  export E2E_KUBECONFIG="$KUBECONFIG_PATH"
  E2E_BIN_DIR="$(cat "$STATE_DIR/bin-dir")"
  export E2E_BIN_DIR
fi

teardown() {
  local rc=$?
  if [[ $started_here == 1 && "${KEEP_CLUSTER:-}" != "1" ]]; then
    bash e2e/cluster/down.sh || true
  elif [[ $started_here == 1 ]]; then
    log "KEEP_CLUSTER=1: leaving the cluster running (npm run cluster:down stops it)."
  fi
  log "e2e run finished in $(fmt_elapsed $((SECONDS - start))) with exit code $rc."
  exit $rc
}
trap teardown EXIT

mapfile -t files < <(find e2e -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if (($# > 0)); then
  filtered=()
  for f in "${files[@]}"; do
    for s in "$@"; do [[ "$f" == *"$s"* ]] && filtered+=("$f") && break; done
  done
  files=("${filtered[@]}")
fi
((${#files[@]} > 0)) || die "no e2e test files matched: $*"

node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
