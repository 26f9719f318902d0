#!/usr/bin/env bash
# Builds the Go command in e2e/tools/<folder> (kstatus, argolua) into .e2e/bin/<folder>-<key>/<folder>, or
# does nothing when that is built (the key hashes the Go version, go.mod, go.sum, the sources and this script).
#   bash e2e/tools/build-go-tool.sh kstatus Prints the
# binary's path on stdout; the build's output goes to stderr. Exit 127 when Go is not installed.
set -euo pipefail
tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="${1:?usage: build-go-tool.sh TOOL (a folder of e2e/tools)}"
here="$tools/$name"
[[ -f "$here/go.mod" ]] || { echo "e2e/tools/$name has no go.mod" >&2; exit 2; }
root="$(cd "$tools/../.." && pwd)"
home="${E2E_HOME:-$root/.e2e}"
if ! command -v go >/dev/null 2>&1; then
  echo "the Go toolchain is needed to build e2e/tools/$name; install Go >= 1.26" >&2
  exit 127
fi
key="$({ go env GOVERSION; uname -m; cat "$here"/go.mod "$here"/go.sum "$here"/*.go "$tools/build-go-tool.sh"; } |
  sha256sum | cut -c1-12)"
dir="$home/bin/$name-$key"
if [[ ! -x "$dir/$name" ]]; then
  partial="$dir.partial.$$"
  mkdir -p "$partial"
  trap 'rm -rf "$partial"' EXIT
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$partial/$name" .) >&2
  # Another build may have finished first: keep that one.
  mv -T "$partial" "$dir" 2>/dev/null || true
fi
echo "$dir/$name"
