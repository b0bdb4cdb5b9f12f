#!/usr/bin/env bash
# Refresh the chart library the dashboard page ships with (uPlot, MIT licence).
# The files are committed under processors/dashboard/static/vendor/ so the page
# works offline and `pip install` needs no npm; run this only to change the
# version: bump UPLOT_VERSION, run, check the page (tests/e2e/test_dashboard_page.py),
# commit the three files.
set -euo pipefail
cd "$(dirname "$0")/.."

UPLOT_VERSION=1.6.32
dest=processors/dashboard/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "[vendor] error: npm is needed (Debian package npm)" >&2; exit 1; }
(cd "$work" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null && tar xzf "uplot-$UPLOT_VERSION.tgz")
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$dest/"
cp "$work/package/LICENSE" "$dest/uPlot.LICENSE"
head -c 80 "$dest/uPlot.iife.min.js" | grep -q "(v$UPLOT_VERSION)" \
    || { echo "[vendor] error: $dest/uPlot.iife.min.js does not name v$UPLOT_VERSION" >&2; exit 1; }
echo "[vendor] uPlot $UPLOT_VERSION in $dest" >&2
