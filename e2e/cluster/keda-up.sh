#!/usr/bin/env bash
# Installs KEDA v2.14.1 and its HTTP add-on v0.8.0 into the local cluster's real node, as a platform team
# would for scale to zero: the CRDs from the published Go modules, and the five components
# (e2e/cluster/keda/keda.yaml) from an image holding the binaries e2e/tools/keda and e2e/tools/keda-http
# build (build-edge.sh; first build 5-15 min each on a 2-core machine, then cached). Waits until every
# component is Ready and the external metrics API is served. Idempotent. Undone by keda-down.sh.
#   bash e2e/cluster/keda-up.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_PATH}"
bin_dir="$(cat "$STATE_DIR/bin-dir" 2>/dev/null || resolve_bin_dir)"
KUBECTL=("$bin_dir/kubectl")
[[ -S "$CONTAINERD_ADDRESS" ]] || die "KEDA runs on the real node, whose containerd is not running: npm run cluster:up"
start=$SECONDS

core_dir="$(bash "$E2E_CLUSTER_DIR/build-edge.sh" keda)"
http_dir="$(bash "$E2E_CLUSTER_DIR/build-edge.sh" keda-http)"
image="localhost/modelship-e2e/keda:$(printf '%s\n' "$core_dir" "$http_dir" | hash_stdin)"

# --- The image: the five static binaries in an otherwise empty image, imported into the node's containerd.
CTR=(ctr --address "$CONTAINERD_ADDRESS" -n k8s.io)
if ! "${CTR[@]}" images ls -q | grep -qxF "$image"; then
  archive="$E2E_HOME/images-keda/$(basename "$image" | tr : -).tar"
  if [[ ! -s "$archive" ]]; then
    mkdir -p "$(dirname "$archive")"
    ctr_id="$(buildah --storage-driver vfs from scratch)"
    trap 'buildah --storage-driver vfs rm "$ctr_id" >/dev/null 2>&1 || true' EXIT
    for b in operator adapter; do buildah --storage-driver vfs copy "$ctr_id" "$core_dir/$b" "/keda/$b" >/dev/null; done
    for b in operator interceptor scaler; do buildah --storage-driver vfs copy "$ctr_id" "$http_dir/$b" "/http/$b" >/dev/null; done
    buildah --storage-driver vfs config --user 65532:65532 "$ctr_id"
    buildah --storage-driver vfs commit --quiet "$ctr_id" "$image" >/dev/null
    buildah --storage-driver vfs push --quiet "$image" "oci-archive:$archive.tmp:$image"
    buildah --storage-driver vfs rmi "$image" >/dev/null 2>&1 || true
    mv "$archive.tmp" "$archive"
    log "Built the image $image ($(du -m "$archive" | cut -f1) MiB)."
  fi
  "${CTR[@]}" images import "$archive" >/dev/null || die "importing $archive into the node's containerd failed"
fi

# --- CRDs, unmodified, from the module cache (filled by the builds above).
mod_dir() { (cd "$TOOLS_DIR/$1" && go list -m -f '{{.Dir}}' "$2"); }
"${KUBECTL[@]}" apply --server-side --force-conflicts \
  -f "$(mod_dir keda github.com/kedacore/keda/v2)/config/crd/bases/" \
  -f "$(mod_dir keda-http github.com/kedacore/http-add-on)/config/crd/bases/" >/dev/null
wait_established "${KUBECTL[0]}" scaledobjects.keda.sh httpscaledobjects.http.keda.sh

# --- The components.
sed "s|KEDA_IMAGE|$image|" "$E2E_CLUSTER_DIR/keda/keda.yaml" | "${KUBECTL[@]}" apply --server-side --force-conflicts -f - >/dev/null
log "Waiting for KEDA's five components to be Ready."
for d in keda-operator keda-metrics-apiserver keda-http-operator keda-http-interceptor keda-http-scaler; do
  "${KUBECTL[@]}" rollout status -n keda "deployment/$d" --timeout=180s >&2 ||
    { "${KUBECTL[@]}" logs -n keda "deployment/$d" --tail=30 >&2 || true; die "KEDA's $d did not become Ready"; }
done
available() {
  [[ "$("${KUBECTL[@]}" get apiservice v1beta1.external.metrics.k8s.io \
    -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" == True ]]
}
t0=$SECONDS
until available; do
  ((SECONDS - t0 < 120)) || die "the external metrics API (KEDA's adapter) is not Available: $("${KUBECTL[@]}" get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.status.conditions[0].message}')"
  sleep 1
done
log "KEDA $KEDA_VERSION and its HTTP add-on $KEDA_HTTP_VERSION are running ($(fmt_elapsed $((SECONDS - start))))."
