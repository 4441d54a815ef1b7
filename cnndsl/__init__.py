"""cnndsl: write a convolutional network as text, see it drawn, count what it costs, run it.

    >>> import cnndsl
    >>> net = cnndsl.load("lenet5")
    >>> net.param_count, net.macs
    (61706, 416520)

Importing cnndsl loads nothing heavy and changes nothing in the process: the parser, NumPy and the
kernels load when first used, and the process settings the `cnndsl` command applies for speed are a
call away (`cnndsl.tune_process()`, see cnndsl/process.py).
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"
__all__ = ["CnnError", "Network", "SourcePosition", "load", "parse", "tune_process"]

_WHERE = {"CnnError": ".errors", "SourcePosition": ".errors", "Network": ".network", "load": ".network",
          "parse": ".network", "tune_process": ".process"}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnndsl' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
