"""numba's `njit`, for every kernel of this package: importing it first makes numba's cache saves safe
for processes compiling side by side (cache.py), spares each process the import of SciPy's linear
algebra that numba makes when its first kernel loads (defer_blas_check), and gives the blocks of an
inlined helper's copied IR one copy of its scope rather than one each (share_inline_copies)."""

import copy
import functools
import sys
import threading
import types

from numba import njit

from .cache import guard

guard()


def defer_blas_check() -> None:
    """numba's array library, imported when a process's first kernel compiles or loads, checks that a BLAS
    is there by importing `scipy.linalg.cython_blas` — all of scipy.linalg, 0.12–0.33 s on 2 cores of an
    AMD EPYC (entry 71), in every run and in the first-run helper. No kernel here calls BLAS from numba
    (the matrix products are NumPy's, outside the kernels), and SciPy is a dependency: that one check
    passes without the import. Any other caller (a kernel of the user's own with np.dot) checks for real."""
    try:
        from numba.np import linalg
    except ImportError:  # another numba's layout: it checks as it always did
        return
    real = linalg.ensure_blas

    def ensure_blas():
        if sys._getframe(1).f_code.co_name != "_check_blas":
            return real()
        return None

    ensure_blas.__wrapped__ = real
    linalg.ensure_blas = ensure_blas


def share_inline_copies() -> None:
    """numba inlines an `inline="always"` helper into each caller by deep-copying the helper's IR block by
    block, each block with a memo of its own — so each copy drags along a fresh copy of the helper's whole
    scope (every variable of the function), and the IR is copied twice (numba issue #8989). Blocks that
    share one scope in the helper get one copy of it here, as in the helper itself: the same inlined IR,
    the same machine code (entry 73 compared every kernel's), a tenth less compiling. Only the copying of
    blocks inside numba's `InlineWorker.inline_ir` is touched; another numba's layout keeps its own."""
    try:
        from numba.core import inline_closurecall as inliner
        from numba.core import ir
    except ImportError:
        return
    worker = getattr(inliner, "InlineWorker", None)
    real = getattr(worker, "inline_ir", None)
    if real is None or getattr(inliner, "copy", None) is not copy or hasattr(real, "__wrapped__"):
        return
    local = threading.local()  # memos by the copied scope, for the inline_ir call under way in this thread

    def deepcopy(x, memo=None):
        memos = getattr(local, "memos", None)
        if memo is None and memos is not None and isinstance(x, ir.Block):
            memo = memos.setdefault(id(x.scope), {})
        return copy.deepcopy(x, memo)

    @functools.wraps(real)
    def inline_ir(self, *args, **kwargs):
        outer, local.memos = getattr(local, "memos", None), {}
        try:
            return real(self, *args, **kwargs)
        finally:
            local.memos = outer

    inliner.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    worker.inline_ir = inline_ir


defer_blas_check()
share_inline_copies()

__all__ = ["njit"]
