#!/usr/bin/env bash
# Set up everything otel-perf-pipeline needs on a Debian machine, idempotently:
#   - Debian packages prometheus (with promtool), redis-server, wrk (the load
#     generator of `otelpipe bench`), chromium and chromium-driver (for the
#     dashboard page test), if missing;
#   - the Python virtual environment .venv with the project and its dev tools;
#   - the collector distribution (ocb) and Jaeger v2 binaries, built once with
#     the Go toolchain and cached under $OTELPIPE_CACHE_DIR (default
#     ~/.local/share/otelpipe/cache). The first build takes 10-20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v wrk >/dev/null || missing+=(wrk)
# The dashboard page test drives a real headless browser through its driver.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { say "error: the Go toolchain (go >= 1.24) is needed to build the collector and Jaeger"; exit 1; }
command -v python3 >/dev/null || { say "error: python3 (>= 3.11) is needed"; exit 1; }

if [ ! -x .venv/bin/python ]; then
    say "creating the virtual environment .venv"
    python3 -m venv .venv
fi
say "installing the project into .venv (pip)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

say "building/locating the backend binaries (cached after the first run)"
.venv/bin/otelpipe stack build
say "ready"
