#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image from Kubernetes' own pause.c, because no image
# registry is reachable: a static binary in an otherwise empty image, saved as an OCI
# archive in .e2e/images/pause.tar. Does nothing when the archive exists.
# Usage: pause-image.sh <bin dir of the cluster build>
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="$E2E_HOME/images/pause.tar"
[[ -s "$out" ]] && exit 0
mkdir -p "$E2E_HOME/images"

src="$(cd "$TOOLS_DIR" && go list -m -f '{{.Dir}}' k8s.io/kubernetes 2>/dev/null)/build/pause/linux/pause.c"
[[ -f "$src" ]] || die "pause.c not found in the k8s.io/kubernetes module ($src); run npm run cluster:up with Go on PATH."
work="$(mktemp -d)"
ctr=""
cleanup() {
  [[ -n "$ctr" ]] && buildah --storage-driver vfs rm "$ctr" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

gcc -Os -static -DVERSION=v3.10-modelship -o "$work/pause" "$src"
strip "$work/pause"
ctr="$(buildah --storage-driver vfs from scratch)"
buildah --storage-driver vfs copy "$ctr" "$work/pause" /pause >/dev/null
buildah --storage-driver vfs config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
buildah --storage-driver vfs commit --quiet "$ctr" "$PAUSE_IMAGE" >/dev/null
buildah --storage-driver vfs push --quiet "$PAUSE_IMAGE" "oci-archive:$out.tmp:$PAUSE_IMAGE"
mv "$out.tmp" "$out"
log "Built $PAUSE_IMAGE ($(du -k "$out" | cut -f1) KiB)"
