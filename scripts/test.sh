#!/usr/bin/env bash
# Install what the tests need and run the whole suite (slow tests included). CI runs this.
#   extra pytest arguments are passed on:  bash scripts/test.sh -k chunk
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
