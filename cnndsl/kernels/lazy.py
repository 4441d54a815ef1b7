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

    class FirstCompile(event.Listener):
        said = False

        def on_start(self, ev):
            if not self.said:
                self.said = True
                print("compiling kernels for the first run (once: numba caches them; a few seconds per kind of "
                      "layer)…", file=sys.stderr, flush=True)

        def on_end(self, ev):
            pass

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
