#!/usr/bin/env bash
# The main job in one command: set up, start the stack and the demo services,
# drive load, then print where to look. Arguments go to `otelpipe demo`
# (e.g. --duration 60, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/otelpipe demo "$@"
