#!/usr/bin/env bash
# Lint, formatting and types. CI runs this before the tests (scripts/test.sh).
#   bash scripts/lint.sh
# Every check runs even when an earlier one fails; the exit status is non-zero if any failed.
# `.venv/bin/ruff format .` fixes what the format check reports.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

failed=()
check() {
    echo "+ $*"
    "$@" || failed+=("$*")
}

check "$bin/ruff" check .
check "$bin/ruff" format --check .
# The engine is typed strictly; the layers above it in mypy's normal mode.
check "$bin/mypy" --strict pipelines
check "$bin/mypy" flows inlet dashboard

if [ ${#failed[@]} -gt 0 ]; then
    printf 'lint failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "lint passed"
