"""Kernel modules loaded on first use: parsing, counting and drawing never import numba (nor NumPy).

`_pool = kernel_module("pool")` gives a stand-in whose first attribute read imports
`cnndsl.kernels.pool` (numba, the compiled kernels) through the import system, which serializes
concurrent first uses from worker threads; each attribute is then kept on the stand-in. Under the
`cnndsl` command, the first kernel numba has to compile (not load from its cache) prints one line on
stderr, so that a first run's wait is not silent.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import time
from typing import Callable

ANNOUNCE = False  # the `cnndsl` command sets it: say once, on stderr, when kernels compile for a first run
_listening = False


def compile_counter(first: Callable[[], None] | None = None, each: Callable[[str], None] | None = None):
    """A listener for numba's compile events that counts kernels compiled and the seconds they took;
    compilations nest (a kernel compiles the helpers it calls) and count once. `first()` runs as the first
    one begins, `each(name)` as each one ends. Register it with numba.core.event.register("numba:compile", …)."""
    from numba.core import event

    class Counter(event.Listener):
        depth, kernels, seconds, began = 0, 0, 0.0, 0.0

        def on_start(self, ev):
            if self.depth == 0:
                if first is not None and self.kernels == 0:
                    first()
                self.began = time.perf_counter()
            self.depth += 1

        def on_end(self, ev):
            self.depth -= 1
            if self.depth == 0:
                self.kernels += 1
                self.seconds += time.perf_counter() - self.began
                if each is not None:
                    each(getattr(ev.data.get("dispatcher"), "__name__", "kernel"))

    return Counter()


def _listen() -> None:
    """Print one line when numba first compiles (a cache miss: it loads cached kernels silently)."""
    global _listening
    if _listening or not ANNOUNCE:
        return
    _listening = True
    from numba.core import event

    def announce() -> None:
        atexit.register(summary)
        print("compiling kernels for the first run (once: numba caches them; a few seconds per kind of "
              "layer; `cnndsl warm` compiles them all at once over the cores)…", file=sys.stderr, flush=True)

    terminal = sys.stderr.isatty()
    width = min(79, shutil.get_terminal_size().columns - 1)  # one line, never wrapped
    showing = False

    def clear() -> None:
        nonlocal showing
        if showing:
            showing = False
            print(f"\r{'':<{width}}\r", end="", file=sys.stderr, flush=True)

    def each(name: str) -> None:  # on a terminal, one line that counts up as kernels compile
        nonlocal showing
        if terminal:
            if not showing and not isinstance(sys.stdout, _ClearsFirst):
                sys.stdout = _ClearsFirst(sys.stdout, clear)
            showing = True
            line = f"  {count.kernels} compiled, {count.seconds:.1f} s (last: {name})"
            print(f"\r{line[:width]:<{width}}", end="", file=sys.stderr, flush=True)

    def summary() -> None:
        k = count.kernels
        clear()
        print(f"compiled {k} kernel{'s' if k != 1 else ''} in {count.seconds:.1f} s; later runs load them from "
              "the cache", file=sys.stderr, flush=True)

    count = compile_counter(announce, each)
    event.register("numba:compile", count)


_hook: Callable[[], None] | None = None
_hooked = False


def when_compiling(callback: Callable[[], None] | None) -> None:
    """callback() once, as the next kernel compile of this process begins (None: forget it). The `cnndsl`
    command starts a helper process then (engine/ahead.py)."""
    global _hook, _hooked
    _hook = callback
    if callback is None or _hooked:
        return
    _hooked = True
    from numba.core import event

    class Hook(event.Listener):
        def on_start(self, ev):
            global _hook
            if _hook is not None:
                fire, _hook = _hook, None
                fire()

        def on_end(self, ev):
            pass

    event.register("numba:compile", Hook())


class _ClearsFirst:
    """sys.stdout that first erases the compile-progress line on stderr, so that output starts on a
    clean line of the terminal."""

    def __init__(self, stream, clear: Callable[[], None]):
        self._stream, self._clear = stream, clear

    def write(self, text: str) -> int:
        self._clear()
        return self._stream.write(text)

    def __getattr__(self, attr: str):
        return getattr(self._stream, attr)


class LazyModule:
    """A module imported at its first attribute read; each attribute is then kept on the stand-in, so later
    reads are plain attribute reads."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<module {self._name}, loaded on first use>"


class _KernelModule(LazyModule):
    def __getattr__(self, attr: str):
        _listen()
        return super().__getattr__(attr)

    def __repr__(self) -> str:
        return f"<kernels {self._name}, loaded on first use>"


def kernel_module(name: str) -> _KernelModule:
    return _KernelModule(f"{__package__}.{name}")


def lazy_module(name: str) -> LazyModule:
    """`np = lazy_module("numpy")`: the op modules, which `cnndsl check` imports for their shape rules,
    load NumPy only when a layer runs (it was a fifth of `cnndsl check resnet50`)."""
    return LazyModule(name)
