"""Kernel modules loaded on first use: parsing, counting and drawing never import numba.

`_pool = kernel_module("pool")` gives a stand-in whose first attribute read imports
`cnndsl.kernels.pool` (numba, the compiled kernels) through the import system, which serializes
concurrent first uses from worker threads; each attribute is then kept on the stand-in. Under the
`cnndsl` command, the first kernel numba has to compile (not load from its cache) prints one line on
stderr, so that a first run's wait is not silent.
"""

from __future__ import annotations

import importlib
import sys

ANNOUNCE = False  # the `cnndsl` command sets it: say once, on stderr, when kernels compile for a first run
_listening = False


def _listen() -> None:
    """Print one line when numba first compiles (a cache miss: it loads cached kernels silently)."""
    global _listening
    if _listening or not ANNOUNCE:
        return
    _listening = True
    from numba.core import event

    import atexit
    import time

    class FirstCompile(event.Listener):
        said = False
        depth = 0  # compilations nest (a kernel compiles the helpers it calls)
        kernels = 0
        seconds = 0.0

        def on_start(self, ev):
            if not self.said:
                self.said = True
                atexit.register(self.summary)
                print("compiling kernels for the first run (once: numba caches them; a few seconds per kind of "
                      "layer)…", file=sys.stderr, flush=True)
            if self.depth == 0:
                self.began = time.perf_counter()
            self.depth += 1

        def on_end(self, ev):
            self.depth -= 1
            if self.depth == 0:
                self.kernels += 1
                self.seconds += time.perf_counter() - self.began

        def summary(self):
            print(f"compiled {self.kernels} kernel{'s' if self.kernels != 1 else ''} in {self.seconds:.1f} s; "
                  "later runs load them from the cache", file=sys.stderr, flush=True)

    event.register("numba:compile", FirstCompile())


class _KernelModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        _listen()
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<kernels {self._name}, loaded on first use>"


def kernel_module(name: str) -> _KernelModule:
    return _KernelModule(f"{__package__}.{name}")
