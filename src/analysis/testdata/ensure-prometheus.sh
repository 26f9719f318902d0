#!/usr/bin/env bash
# Makes a Prometheus server binary available for the analysis integration test and prints its path.
# Idempotent: an existing binary ($PROMETHEUS_BIN, or prometheus on PATH) is used as is; otherwise the
# Debian package is installed with apt-get (needs root). Exits 3 with a reason on stderr when neither works.
set -euo pipefail

if [[ -n "${PROMETHEUS_BIN:-}" && -x "${PROMETHEUS_BIN}" ]]; then
  echo "${PROMETHEUS_BIN}"
  exit 0
fi
if command -v prometheus >/dev/null 2>&1; then
  command -v prometheus
  exit 0
fi
# Root, or passwordless sudo (CI runners), may install the package.
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "prometheus is not installed and cannot be installed here (apt-get needs root or passwordless sudo); set PROMETHEUS_BIN" >&2
    exit 3
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "prometheus is not installed and there is no apt-get to install it; set PROMETHEUS_BIN" >&2
  exit 3
fi
# Only the server: the package's recommends pull in exporters and a web UI we do not need.
exec 9>"${TMPDIR:-/tmp}/modelship-apt.lock"
flock 9
if ! command -v prometheus >/dev/null 2>&1; then
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; then
      echo "apt-get install prometheus failed" >&2
      exit 3
    fi
  fi
fi
command -v prometheus
