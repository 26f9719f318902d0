#!/usr/bin/env bash
# Creates (once) the Python venv that the drift parity tests and bench use as the reference:
# scipy for KS / chi-square, pandas for the read_json(lines) bench pipeline, palmerpenguins for a
# real public dataset with a real shift. Idempotent: a marker file records a completed install.
# Usage: ensure-pyenv.sh [VENV_DIR]   (default .cache/pyenv under the repository root)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="${1:-$root/.cache/pyenv}"
marker="$venv/.modelship-drift-ready-v1"
if [ -f "$marker" ]; then
  echo "$venv"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
exec 9>"$(dirname "$venv")/.pyenv.lock"
flock 9
if [ ! -f "$marker" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check scipy pandas palmerpenguins >&2
  "$venv/bin/python" -c "import scipy.stats, pandas, palmerpenguins" >&2
  touch "$marker"
fi
echo "$venv"
