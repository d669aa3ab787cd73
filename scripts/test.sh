#!/usr/bin/env bash
# Install what the tests need, run the lint (scripts/lint.sh) and the whole suite (slow tests
# included). CI runs this.
#   extra pytest arguments are passed on, and then the lint is skipped:  bash scripts/test.sh -k chunk
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The dashboard's browser test drives Debian's Chromium (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ]; then
    if ! { command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
        echo "note: /usr/bin/chromium is missing and could not be installed; the browser test is skipped" >&2
    fi
fi
# Tests speak known sentences with espeak-ng to make recordings and videos with speech in them.
if ! command -v espeak-ng >/dev/null; then
    if ! { command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; }; then
        echo "note: espeak-ng is missing and could not be installed; the tests that speak are skipped" >&2
    fi
fi
if [ $# -eq 0 ]; then
    bash scripts/lint.sh
fi
exec .venv/bin/python -m pytest "$@"
