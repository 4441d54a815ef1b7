"""How many threads cnndsl's kernels use: every core (up to 8), or `CNNDSL_THREADS`."""

from __future__ import annotations

import os

from .errors import CnnError

MAX_THREADS = 256


def threads_from_env() -> int:
    """`CNNDSL_THREADS` if set (a whole number from 1 to 256; 1 turns the per-core chunks off), else the
    number of cores, at most 8."""
    text = os.environ.get("CNNDSL_THREADS")
    if text is None:
        return min(os.cpu_count() or 1, 8)
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise CnnError(f"CNNDSL_THREADS={text!r}: expected a whole number from 1 to {MAX_THREADS}",
                       hint="unset it to use every core, or set CNNDSL_THREADS=1 for one thread")
    return value
