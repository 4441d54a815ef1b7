#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine, installing what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
# One numba cache for the whole run (and across runs): kernels compile once.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.numba_cache}"
# Every kernel compiled first, over the cores, rather than one at a time as the tests reach them.
python3 -m cnndsl warm
# Both tiers: the fast one (what `pytest` alone runs) and the integration tests marked slow.
exec python3 -m pytest -m "slow or not slow" "$@"
