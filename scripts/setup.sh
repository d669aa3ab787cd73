#!/usr/bin/env bash
# Create .venv in the checkout and install inlet into it (editable), CPU PyTorch first.
#   bash scripts/setup.sh          # inlet and its runtime dependencies
#   bash scripts/setup.sh test     # ... plus what the tests need
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --upgrade pip
# PyTorch before sentence-transformers: an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" install "torch==2.13.0"
if [ -n "$extras" ]; then
    "${pip[@]}" install -e ".[$extras]"
else
    "${pip[@]}" install -e .
fi
echo "inlet installed in $(pwd)/.venv ($(.venv/bin/inlet --version))"
