"""kernels/jit.py's change to how numba copies an inlined helper: one copy of the helper's scope for all
its blocks (numba issue #8989), the helper still inlined and still right."""

import types

import numpy as np
from numba import njit
from numba.core import inline_closurecall as inliner

from cnndsl.kernels import jit  # noqa: F401  (installs the change)


@njit(inline="always")
def _clipped_sum(a, lo, hi):  # several blocks: a loop, a branch in it, an early return
    if hi <= lo:
        return 0.0
    s = 0.0
    for i in range(lo, hi):
        if a[i] > 0:
            s += a[i]
        else:
            s -= 0.5 * a[i]
    return s


def _caller(a):
    return _clipped_sum(a, 1, a.shape[0] - 1) + _clipped_sum(a, 3, 2)


def _python(a, lo, hi):
    return sum(v if v > 0 else -0.5 * v for v in a[lo:hi]) if hi > lo else 0.0


def test_inlined_helper_blocks_share_one_copied_scope(monkeypatch):
    copies = []
    shim = inliner.copy

    def recording(x, memo=None):
        out = shim.deepcopy(x, memo)
        copies.append((x.scope, out.scope))  # kept: numba re-points inlined blocks to the caller's scope
        return out

    monkeypatch.setattr(inliner, "copy", types.SimpleNamespace(deepcopy=recording, copy=shim.copy))
    a = np.array([3.0, -2.0, 5.0, -1.0, 4.0, 7.0])
    assert njit(_caller)(a) == _python(a, 1, 5) + _python(a, 3, 2)
    sources, copied = {id(s) for s, _ in copies}, {id(c) for _, c in copies}
    # two call sites, each copied twice by numba's inline_ir (the second copy from the first): four
    # scopes however many blocks, where numba alone makes one per block
    assert len(copies) > 8 and len(copied) == len(sources) == 4
    assert all(s is not c for s, c in copies)
    assert inliner.InlineWorker.inline_ir.__wrapped__ is not None
