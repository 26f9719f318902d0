#!/usr/bin/env bash
# Packages charts/modelship into dist/charts/modelship-<version>.tgz, the artefact to publish
# (`helm push` to an OCI registry, or a chart repository's index). Lints first, and refuses a chart whose
# values.schema.json or CRD is stale. Extra arguments go to `helm package`, e.g. --version 0.2.0 --app-version 0.2.0.
#   bash scripts/chart-package.sh [helm package flags]      (npm run chart:package)
set -euo pipefail
cd "$(dirname "$0")/.."
helm_bin="${HELM:-helm}"
if [[ -z "${HELM:-}" ]]; then
  if [[ -f .e2e/cluster/bin-dir ]]; then
    helm_bin="$(cat .e2e/cluster/bin-dir)/helm"
  elif ! command -v helm >/dev/null; then
    built=$(ls -d .e2e/bin/*/helm 2>/dev/null | tail -1 || true)
    [[ -n "$built" ]] || { echo "no helm: run npm run cluster:up once (it builds one)" >&2; exit 1; }
    helm_bin="$built"
  fi
fi
node --import tsx bin/dev.ts chart-schema --check
node --import tsx bin/dev.ts crds --check
out=dist/charts
mkdir -p "$out"
"$helm_bin" lint charts/modelship
"$helm_bin" package charts/modelship --destination "$out" "$@"
