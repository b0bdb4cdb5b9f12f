#!/usr/bin/env bash
# The test suite in one command: set up (idempotent), lint, then pytest —
# unit tests and end-to-end tests against the real stack, which the tests
# start themselves. Arguments go to pytest (e.g. -k jaeger, -m "not e2e").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .

set +e
.venv/bin/pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "[test] pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"
