"""Python's cycle collector, paused while a large graph or table is being made.

A 100,000-layer network is a few hundred thousand small dicts and tuples and no reference cycles;
each full collection rescans all of them, and building one triggers dozens (a third of the time).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
