#!/usr/bin/env bash
# Loads the images npm run image built (.e2e/images/*.tar) into the real node's containerd, under
# their built names and under the names the chart and the controller use by default
# (docker.io/modelship/modelship:<version>), so pods start them without a registry.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -S "$CONTAINERD_ADDRESS" ]] || die "the real node's containerd is not running; start the cluster: npm run cluster:up"
CTR=(ctr --address "$CONTAINERD_ADDRESS" -n k8s.io)
shopt -s nullglob
for archive in "$E2E_HOME"/images/*.tar; do
  [[ "$archive" == */pause.tar ]] && continue
  names="$("${CTR[@]}" images import "$archive" 2>&1 | awk '/^unpacking/ {print $2}')" ||
    die "importing $archive into containerd failed"
  for name in $names; do
    # localhost/modelship/x:tag is also known as docker.io/modelship/x:tag, the default name.
    if [[ "$name" == localhost/modelship/* ]]; then
      alias="docker.io/${name#localhost/}"
      "${CTR[@]}" images rm "$alias" >/dev/null 2>&1 || true
      "${CTR[@]}" images tag "$name" "$alias" >/dev/null
      log "Loaded $name (also as $alias)"
    else
      log "Loaded $name"
    fi
  done
done
