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
# OCR of scanned PDF pages and images runs Debian's Tesseract 5 with its English data (pip
# cannot install it). Without it everything else works, and a scan fails as ocr_unavailable
# with this install line as its hint.
if ! command -v tesseract >/dev/null; then
    if ! { command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; }; then
        echo "note: tesseract is missing and could not be installed (as root: apt-get install tesseract-ocr tesseract-ocr-eng); scans and images will not be read" >&2
    fi
fi
# PyTorch before sentence-transformers: an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" install "torch==2.13.0"
if [ -n "$extras" ]; then
    "${pip[@]}" install -e ".[$extras]"
else
    "${pip[@]}" install -e .
fi
echo "inlet installed in $(pwd)/.venv ($(.venv/bin/inlet --version))"
