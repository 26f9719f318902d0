#!/usr/bin/env bash
# Prints shell exports for using the e2e cluster by hand:
#   eval "$(bash e2e/cluster/env.sh)"   then   kubectl get nodes / helm list
# With --hint, prints that usage as a message on stderr instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin_dir="$(cat "$STATE_DIR/bin-dir" 2>/dev/null || resolve_bin_dir)"
if [[ "${1:-}" == "--hint" ]]; then
  {
    echo "  Use it from a shell:  eval \"\$(bash e2e/cluster/env.sh)\"  (puts kubectl and helm on PATH)"
    echo "  or directly:          KUBECONFIG=$KUBECONFIG_PATH $bin_dir/kubectl get nodes"
    echo "  Stop it:              npm run cluster:down"
  } >&2
  exit 0
fi
printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_PATH"
printf 'export PATH=%q:"$PATH"\n' "$bin_dir"
