#!/usr/bin/env bash
# Fetches the playground's front-end libraries from the npm registry into cnndsl/serve/static/vendor/
# (they are committed: the page works offline and installing cnndsl needs no npm).
set -euo pipefail
cd "$(dirname "$0")/.."
V=cnndsl/serve/static/vendor
T=$(mktemp -d)
( cd "$T" && npm pack --silent codemirror@5.65.18 svg-pan-zoom@3.6.2 chart.js@4.6.1 >/dev/null )
for f in "$T"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
mkdir -p "$V/codemirror"
cp "$T"/codemirror-5.65.18/package/lib/codemirror.{js,css} "$T"/codemirror-5.65.18/package/addon/mode/simple.js "$V/codemirror/"
cp "$T"/codemirror-5.65.18/package/LICENSE "$V/codemirror/LICENSE"
cp "$T"/svg-pan-zoom-3.6.2/package/dist/svg-pan-zoom.min.js "$V/"
cp "$T"/svg-pan-zoom-3.6.2/package/LICENSE "$V/svg-pan-zoom.LICENSE"
cp "$T"/chart.js-4.6.1/package/dist/chart.umd.min.js "$V/"
cp "$T"/chart.js-4.6.1/package/LICENSE.md "$V/chart.js.LICENSE.md"
rm -rf "$T"
