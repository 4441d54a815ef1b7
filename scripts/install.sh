#!/usr/bin/env bash
# Installs what cnndsl needs on a fresh machine: Graphviz's `dot` (Debian) and the package itself.
# Usage: scripts/install.sh [--test]   (--test adds pytest, hypothesis, onnx, onnxruntime, the playground's server
# and Playwright, Debian's Chromium, and the CPU build of torch)
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests run the main job on an installed checkout; they set this to skip the install step.
[ -n "${CNNDSL_SKIP_INSTALL:-}" ] && exit 0

if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Graphviz (dot) with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  else
    echo "warning: Graphviz's 'dot' is missing; install it (e.g. 'sudo apt-get install graphviz') to render diagrams" >&2
  fi
fi

# The playground's browser tests drive Debian's Chromium (Playwright is told where it is; it downloads nothing).
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Chromium with apt-get (the playground's browser tests)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: Chromium is missing; the playground's browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi

PIP="python3 -m pip install --quiet --disable-pip-version-check"
if [ "${1:-}" = "--test" ]; then
  echo "== installing cnndsl with its test dependencies (and torch, the CPU build, as the tests' oracle)"
  $PIP torch==2.13.0
  $PIP -e ".[test]"
else
  echo "== installing cnndsl"
  $PIP -e .
fi
# Byte-compile the package now: where PYTHONDONTWRITEBYTECODE is set (some machines set it), Python would
# otherwise compile every module of an editable install from source on each start (0.1–0.15 s).
python3 -m compileall -q cnndsl >/dev/null
