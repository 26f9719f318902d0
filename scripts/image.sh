#!/usr/bin/env bash
# Builds the modelship image from the Dockerfile with buildah, offline, and writes it as an OCI archive
# that containerd can import (docs/image.md):
#   npm run image                          .e2e/images/modelship.tar (+ custom-server.tar, a test image)
#   npm run image -- --no-custom-server    only the modelship image
#   npm run image -- --force               rebuild even when the inputs did not change
#   CONTAINERD_ADDRESS=<containerd socket path> npm run image
#                                          also imports both archives into containerd (namespace k8s.io)
# Environment:
#   MODELSHIP_BASE_IMAGE      Node.js base (the Dockerfile's NODE_IMAGE). Unset: a local base made from
#                             this machine's Node.js by scripts/base-image.sh, as no registry is needed;
#                             e.g. node:20-bookworm-slim builds on the Dockerfile's default base.
#   MODELSHIP_IMAGE           image name (default localhost/modelship/modelship:<package.json version>)
#   MODELSHIP_NPM_FLAGS       flags for npm ci in the build (default --offline --no-audit --no-fund: the
#                             packages come from this machine's npm cache, mounted into the build)
#   MODELSHIP_BUILD_NETWORK   buildah --network for RUN steps (default none; e.g. host to let npm fetch)
#   MODELSHIP_STORAGE_DRIVER  buildah storage driver (default vfs)
#   CONTAINERD_NAMESPACE      containerd namespace to import into (default k8s.io)
#   CONTAINERD_SNAPSHOTTER    snapshotter to unpack into (default: containerd's)
#   E2E_HOME                  where images/ goes (default .e2e)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDAH=(buildah --storage-driver "${MODELSHIP_STORAGE_DRIVER:-vfs}")
OUT_DIR="${E2E_HOME:-.e2e}/images"
version="$(node -p 'require("./package.json").version')"
IMAGE="${MODELSHIP_IMAGE:-localhost/modelship/modelship:$version}"
CUSTOM_IMAGE="localhost/modelship/custom-echo-server:test"
NPM_FLAGS="${MODELSHIP_NPM_FLAGS---offline --no-audit --no-fund}"
NETWORK="${MODELSHIP_BUILD_NETWORK:-none}"

custom_server=1
force=0
for arg in "$@"; do
  case "$arg" in
    --custom-server) custom_server=1 ;;
    --no-custom-server) custom_server=0 ;;
    --force) force=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "unknown argument: $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

command -v buildah >/dev/null || {
  echo "[image] error: buildah is not installed (Debian/Ubuntu: apt-get install buildah)" >&2
  exit 1
}
mkdir -p "$OUT_DIR"

total_start=$SECONDS
log() { printf '[image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  printf '[image] error: %s\n' "$*" >&2
  exit 1
}
elapsed() {
  local s=$((SECONDS - $1))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}
human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1" 2>/dev/null || echo "$1 bytes"; }

# Runs a step with its output in a log file (shown when it fails); prints its elapsed time.
step() {
  local name="$1" logfile="$2"
  shift 2
  local start=$SECONDS
  log "$name ... (log: $logfile)"
  if ! "$@" >"$logfile" 2>&1; then
    tail -n 40 "$logfile" >&2
    die "$name failed after $(elapsed "$start"); full log: $logfile"
  fi
  log "$name: done in $(elapsed "$start")"
}

# The build inputs, one line each: the extra strings, then "<sha256>  <path>" for every file under the
# given files and folders; unit tests (*.test.ts) and testdata/ left out: they never reach the image.
inputs_list() {
  local -a paths=()
  local a
  for a in "$@"; do
    if [[ -e "$a" ]]; then paths+=("$a"); else printf '%s\n' "$a"; fi
  done
  find "${paths[@]}" -type f ! -name '*.test.ts' ! -path '*/testdata/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
}

image_id() { "${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true; }

# Uncompressed size: the layers of the archive, decompressed.
uncompressed_size() {
  local archive="$1" manifest_digest layers total=0 n
  manifest_digest="$(tar -xOf "$archive" index.json | node -e 'const i = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(i.manifests[0].digest.replace(":", "/"))')"
  layers="$(tar -xOf "$archive" "blobs/$manifest_digest" | node -e 'const m = JSON.parse(require("fs").readFileSync(0, "utf8")); for (const l of m.layers) console.log(l.digest.replace(":", "/"), l.mediaType)')"
  while read -r blob media; do
    case "$media" in
      *zstd) n="$(tar -xOf "$archive" "blobs/$blob" | zstd -dc | wc -c)" ;;
      *gzip) n="$(tar -xOf "$archive" "blobs/$blob" | gzip -dc | wc -c)" ;;
      *) n="$(tar -xOf "$archive" "blobs/$blob" | wc -c)" ;;
    esac
    total=$((total + n))
  done <<<"$layers"
  echo "$total"
}

# build_image NAME IMAGE CONTEXT DOCKERFILE ARCHIVE INPUT_PATHS_AND_STRINGS... -- BUD_ARGS...
build_image() {
  local name="$1" image="$2" context="$3" dockerfile="$4" archive="$5"
  shift 5
  local -a input_paths=() bud_args=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    input_paths+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift
  bud_args=("$@")

  local inputs inputs_file="$archive.inputs"
  inputs="$(inputs_list "${input_paths[@]}" "image=$image" "${bud_args[@]}")"
  if [[ "$force" == 0 && -f "$archive" && -f "$inputs_file" ]]; then
    if [[ "$(cat "$inputs_file")" == "$inputs" ]]; then
      log "$name: inputs unchanged since the last build ($inputs_file); not rebuilding $archive"
      return 0
    fi
    log "$name: inputs changed: $(diff <(cat "$inputs_file") <(echo "$inputs") | sed -n 's/^[<>] \([0-9a-f]\{64\}  \)\{0,1\}//p' | sort -u | head -5 | paste -sd ' ')"
  fi

  local old_id new_id
  old_id="$(image_id "$image")"
  rm -f "$inputs_file"
  step "$name: buildah bud -> $image" "$OUT_DIR/$name.build.log" \
    "${BUILDAH[@]}" bud --format oci --network "$NETWORK" --tag "$image" --file "$dockerfile" "${bud_args[@]}" "$context"
  new_id="$(image_id "$image")"
  # vfs keeps full copies: drop the image this build replaced (rmi refuses while another name uses it).
  if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
    "${BUILDAH[@]}" rmi "$old_id" >/dev/null 2>&1 || true
  fi

  local tmp="$archive.partial"
  rm -f "$tmp"
  step "$name: buildah push -> $archive" "$OUT_DIR/$name.push.log" \
    "${BUILDAH[@]}" push "$image" "oci-archive:$tmp:$image"
  mv -f "$tmp" "$archive"
  echo "$inputs" >"$inputs_file"
}

# 1. The Node.js base.
if [[ -n "${MODELSHIP_BASE_IMAGE:-}" ]]; then
  base="$MODELSHIP_BASE_IMAGE"
  log "base image: $base (MODELSHIP_BASE_IMAGE)"
else
  start=$SECONDS
  log "base image: local, from this machine's Node.js (scripts/base-image.sh) ..."
  base="$(bash scripts/base-image.sh)"
  log "base image: $base, ready in $(elapsed "$start")"
fi
base_id="$(image_id "$base")"

# 2. The modelship image. The build's npm ci reads this machine's npm cache: no network needed.
npm_cache="$(npm config get cache 2>/dev/null)"
[[ -d "$npm_cache" ]] || die "no npm cache at '$npm_cache': run npm ci once on this machine (it fills the cache)"
build_image modelship "$IMAGE" . Dockerfile "$OUT_DIR/modelship.tar" \
  Dockerfile .dockerignore package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json bin src crds proto \
  scripts/image.sh "base=$base@$base_id" -- \
  --volume "$npm_cache:/root/.npm" \
  --build-arg "NODE_IMAGE=$base" \
  --build-arg "NPM_CI_FLAGS=$NPM_FLAGS"

# 3. The custom model server test image (e2e/images/custom-server).
if [[ "$custom_server" == 1 ]]; then
  build_image custom-server "$CUSTOM_IMAGE" e2e/images/custom-server e2e/images/custom-server/Dockerfile \
    "$OUT_DIR/custom-server.tar" e2e/images/custom-server scripts/image.sh "base=$base@$base_id" -- \
    --build-arg "NODE_IMAGE=$base"
fi

# 4. Import into containerd.
archives=("$OUT_DIR/modelship.tar")
[[ "$custom_server" == 1 ]] && archives+=("$OUT_DIR/custom-server.tar")
if [[ -n "${CONTAINERD_ADDRESS:-}" ]]; then
  command -v ctr >/dev/null || die "CONTAINERD_ADDRESS is set but ctr is not installed"
  [[ -S "$CONTAINERD_ADDRESS" ]] || die "CONTAINERD_ADDRESS=$CONTAINERD_ADDRESS is not a socket (is containerd running?)"
  ctr_args=(--address "$CONTAINERD_ADDRESS" -n "${CONTAINERD_NAMESPACE:-k8s.io}")
  import_args=()
  [[ -n "${CONTAINERD_SNAPSHOTTER:-}" ]] && import_args+=(--snapshotter "$CONTAINERD_SNAPSHOTTER")
  for a in "${archives[@]}"; do
    step "containerd: import $(basename "$a")" "$OUT_DIR/$(basename "$a" .tar).import.log" \
      ctr "${ctr_args[@]}" images import "${import_args[@]}" "$a"
  done
fi

# 5. Summary.
log "done in $(elapsed "$total_start")"
for a in "${archives[@]}"; do
  name="$(tar -xOf "$a" index.json | node -e 'const i = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(i.manifests[0].annotations?.["org.opencontainers.image.ref.name"] ?? "?")')"
  printf '%s\n  archive %s: %s compressed, %s uncompressed\n' "$name" "$a" \
    "$(human "$(stat -c %s "$a")")" "$(human "$(uncompressed_size "$a")")"
done
if [[ -z "${CONTAINERD_ADDRESS:-}" ]]; then
  echo "Load into the local cluster's node: bash e2e/cluster/load-images.sh"
  echo "  (another containerd: CONTAINERD_ADDRESS=<socket> npm run image, or ctr ... images import ${archives[*]})"
fi
