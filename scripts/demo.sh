#!/usr/bin/env bash
# First run: install into .venv, ingest the bundled sample corpus, search it, open the dashboard.
# Nothing to start by hand: Prefect runs embedded, the models come from installed packages.
#   INLET_HOME      where the stores go (default ~/.inlet)
#   INLET_NO_DASHBOARD=1   stop after the search instead of serving the dashboard
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The sample corpus; exit status 1 would mean a sample failed to ingest.
.venv/bin/inlet ingest samples/corpus --collection samples
.venv/bin/inlet search "ask not what your country can do for you" --collection samples --limit 3
if [ "${INLET_NO_DASHBOARD:-0}" != "1" ]; then
    exec .venv/bin/inlet dashboard --port "${INLET_PORT:-8501}"
fi
