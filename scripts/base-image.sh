#!/usr/bin/env bash
# Builds a minimal Node.js base image from this machine's own Node.js, for building the modelship image
# where no image registry is reachable (the Dockerfile's default NODE_IMAGE, node:20-bookworm-slim, is
# pulled from a registry). Used by scripts/image.sh; see docs/image.md.
#
# The image is FROM scratch and holds: node (at /usr/local/bin/node, as in the official node images),
# npm, /bin/sh (dash) and /usr/bin/env (npm runs package scripts and #!/usr/bin/env node shims with
# them), the shared libraries node and onnxruntime-node's native addon link against (found with ldd),
# the dynamic loader, /etc/passwd and /etc/group with a nonroot user 65532, and /tmp (1777).
# No CA bundle: Node.js carries its own.
#
# Prints the image name on stdout; progress goes to stderr. Does nothing when the image already
# exists in buildah storage (same Node.js version and same BASE_REVISION).
#   MODELSHIP_NODE_BIN         node binary to use (default: node on PATH)
#   MODELSHIP_STORAGE_DRIVER   buildah storage driver (default: vfs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Bump when the image's contents change so cached bases are rebuilt.
BASE_REVISION="2"
BUILDAH=(buildah --storage-driver "${MODELSHIP_STORAGE_DRIVER:-vfs}")

log() { printf '[base-image] %s\n' "$*" >&2; }
die() {
  printf '[base-image] error: %s\n' "$*" >&2
  exit 1
}

node_bin="$(readlink -f "${MODELSHIP_NODE_BIN:-$(command -v node || true)}")"
[[ -x "$node_bin" ]] || die "no node binary found: put node on PATH or set MODELSHIP_NODE_BIN"
node_version="$("$node_bin" --version)"
node_version="${node_version#v}"
node_arch="$("$node_bin" -p process.arch)"
image="localhost/modelship-node-base:$node_version"

if [[ "$("${BUILDAH[@]}" inspect --type image --format '{{index .OCIv1.Config.Labels "io.modelship.base.revision"}}' "$image" 2>/dev/null || true)" == "$BASE_REVISION" ]]; then
  log "$image exists; not rebuilding"
  echo "$image"
  exit 0
fi

# npm of the same Node.js installation: <prefix>/lib/node_modules/npm.
npm_dir=""
for d in "$(dirname "$node_bin")/../lib/node_modules/npm" "$(npm prefix -g 2>/dev/null)/lib/node_modules/npm"; do
  if [[ -f "$d/bin/npm-cli.js" ]]; then
    npm_dir="$(readlink -f "$d")"
    break
  fi
done
[[ -n "$npm_dir" ]] || die "npm of the node installation at $node_bin not found"

sh_bin="$(readlink -f /bin/sh)"
[[ "$(basename "$sh_bin")" == dash || "$(basename "$sh_bin")" == bash ]] || sh_bin="$(readlink -f "$(command -v dash || command -v bash)")"
env_bin="$(readlink -f "$(command -v env)")"

log "building $image from node $node_bin (v$node_version, $node_arch), npm $("$node_bin" "$npm_dir/bin/npm-cli.js" --version 2>/dev/null)"

rootfs="$(mktemp -d)"
ctr=""
cleanup() {
  rm -rf "$rootfs"
  if [[ -n "$ctr" ]]; then "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# Same top-level layout as the host (Debian 12: merged /usr, /bin -> usr/bin, ...).
mkdir -p "$rootfs/usr/bin" "$rootfs/usr/lib" "$rootfs/usr/sbin" "$rootfs/usr/local/bin" "$rootfs/usr/local/lib"
for d in bin sbin lib lib64; do
  if [[ -L "/$d" ]]; then
    ln -s "$(readlink "/$d")" "$rootfs/$d"
  fi
done

# Copies a host file to the same path in the rootfs, following (and recreating) symlinks.
add_file() {
  local p="$1" dir base t
  while :; do
    dir="$(readlink -f "$(dirname "$p")")"
    base="$(basename "$p")"
    mkdir -p "$rootfs$dir"
    if [[ ! -e "$rootfs$dir/$base" && ! -L "$rootfs$dir/$base" ]]; then
      cp -a "$dir/$base" "$rootfs$dir/$base"
    fi
    [[ -L "$dir/$base" ]] || break
    t="$(readlink "$dir/$base")"
    case "$t" in
      /*) p="$t" ;;
      *) p="$dir/$t" ;;
    esac
  done
}

# Shared libraries (and the loader) of every binary that runs in the image.
elf=("$node_bin" "$sh_bin" "$env_bin")
addon_dir="$(ls -d node_modules/onnxruntime-node/bin/napi-v*/linux/"$node_arch" 2>/dev/null | tail -1 || true)"
if [[ -n "$addon_dir" ]]; then
  elf+=("$addon_dir"/onnxruntime_binding.node "$addon_dir"/libonnxruntime.so*)
else
  log "warning: node_modules/onnxruntime-node not installed (run npm ci); adding its usual libraries"
  for l in librt.so.1 libdl.so.2 libpthread.so.0; do
    f="$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')"
    [[ -n "$f" ]] && elf+=("$f")
  done
fi
libs="$(for f in "${elf[@]}"; do ldd "$f"; done | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)"
missing="$(for f in "${elf[@]}"; do ldd "$f"; done | awk '/not found/ && !/libonnxruntime/ { print $1 }' | sort -u)"
[[ -z "$missing" ]] || die "libraries not found on this machine: $missing"
repo="$(pwd -P)"
for l in $libs; do
  # libonnxruntime.so.1 comes with the package (node_modules), not with the base.
  [[ "$(readlink -f "$l")" == "$repo"/* ]] || add_file "$l"
done

# Binaries.
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
add_file "$env_bin"
cp -a "$sh_bin" "$rootfs/usr/bin/$(basename "$sh_bin")"
ln -sf "$(basename "$sh_bin")" "$rootfs/usr/bin/sh"
[[ -L "$rootfs/bin" ]] || { mkdir -p "$rootfs/bin" && ln -sf "/usr/bin/$(basename "$sh_bin")" "$rootfs/bin/sh"; }
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# /etc, home directories, /tmp.
mkdir -p "$rootfs/etc" "$rootfs/root" "$rootfs/home/nonroot" "$rootfs/tmp"
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
cat >"$rootfs/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
chmod 0700 "$rootfs/root"
chown 65532:65532 "$rootfs/home/nonroot"
chmod 1777 "$rootfs/tmp"
# A loader cache, so that library lookups do not scan directories.
if command -v ldconfig >/dev/null; then
  : >"$rootfs/etc/ld.so.conf"
  ldconfig -r "$rootfs" 2>/dev/null || rm -f "$rootfs/etc/ld.so.cache"
fi

old_id="$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true)"
ctr="$("${BUILDAH[@]}" from --quiet scratch)"
mnt="$("${BUILDAH[@]}" mount "$ctr")"
cp -a "$rootfs/." "$mnt/"
"${BUILDAH[@]}" umount "$ctr" >/dev/null
"${BUILDAH[@]}" config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$node_version" \
  --workingdir / \
  --cmd node \
  --arch "$(case "$node_arch" in x64) echo amd64 ;; *) echo "$node_arch" ;; esac)" \
  --os linux \
  --label io.modelship.base.revision="$BASE_REVISION" \
  --label io.modelship.base.node-version="$node_version" \
  "$ctr"
"${BUILDAH[@]}" commit --quiet --rm "$ctr" "$image" >/dev/null
ctr=""
# vfs keeps full copies: drop the base this one replaced (rmi refuses while something uses it).
if [[ -n "$old_id" ]]; then "${BUILDAH[@]}" rmi "$old_id" >/dev/null 2>&1 || true; fi
log "built $image ($("${BUILDAH[@]}" images --format '{{.Size}}' "$image" 2>/dev/null | head -1))"
echo "$image"
