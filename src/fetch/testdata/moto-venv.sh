#!/usr/bin/env bash
# Creates (once) a Python venv with moto's S3-compatible server for the S3 tests; prints the moto_server path.
# Test files run in parallel: an exclusive lock lets one make the venv while the others wait for it.
# Exits non-zero with a reason on stderr when python3, venv or the package index is unavailable.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="$root/.cache/moto-venv"
mkdir -p "$root/.cache"
exec 9>"$root/.cache/moto-venv.lock"
flock -w 600 9 || { echo "timed out waiting for another test to make $venv" >&2; exit 3; }
if [ ! -x "$venv/bin/moto_server" ]; then
  command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 3; }
  # a venv cannot be moved (its scripts name their own path): made in place, under the lock
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "python3 -m venv failed" >&2; exit 3; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.*" >&2 || { echo "pip install moto[server] failed" >&2; exit 3; }
fi
echo "$venv/bin/moto_server"
