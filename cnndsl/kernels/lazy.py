"""Kernel modules loaded on first use: parsing, counting and drawing never import numba.

`_pool = kernel_module("pool")` gives a stand-in whose first attribute read imports
`cnndsl.kernels.pool` (numba, the compiled kernels) through the import system, which serializes
concurrent first uses from worker threads; each attribute is then kept on the stand-in.
"""

from __future__ import annotations

import importlib


class _KernelModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<kernels {self._name}, loaded on first use>"


def kernel_module(name: str) -> _KernelModule:
    return _KernelModule(f"{__package__}.{name}")
