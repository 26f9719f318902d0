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
if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "prometheus is not installed and apt-get cannot install it here (needs root and apt-get); set PROMETHEUS_BIN" >&2
  exit 3
fi
# Only the server: the package's recommends pull in exporters and a web UI we do not need.
exec 9>/tmp/modelship-apt.lock
flock 9
if ! command -v prometheus >/dev/null 2>&1; then
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; then
      echo "apt-get install prometheus failed" >&2
      exit 3
    fi
  fi
fi
command -v prometheus
