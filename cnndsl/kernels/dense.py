"""A dense layer's weight gradient for a few rows, by rows of outer products.

    dW (O, I) = dyᵀ (O × N) · x (N × I)  =  Σ_n  dy[n]ᵀ ⊗ x[n]

With N = 1 this is an outer product and with a few rows a sum of them: a matrix product whose inner
dimension is N. OpenBLAS runs such a product far below its rate — VGG-16's first dense layer (4096 × 25088)
at batch 1 took 140–200 ms, where writing its 411 MB of gradient takes 35 (an AMD EPYC, 2 cores;
docs/performance.md). Here each core writes its rows of dW once, reading the N input rows from cache.
kernels/schedule.py's MAX_OUTER_ROWS says up to which N (beyond it the product is compute-bound and BLAS
wins); the readable twin is kernels/reference/dense.py.
"""

from __future__ import annotations

import numpy as np

from . import schedule
from .jit import njit


@njit(cache=True, nogil=True, fastmath={"contract"})
def outer_rows(dy, x, o0, o1, dw):
    """dw[o] = Σ_n dy[n, o] · x[n] for the rows o0 ≤ o < o1."""
    n, k = x.shape
    for o in range(o0, o1):
        row = dw[o]
        a, x0 = dy[0, o], x[0]
        for i in range(k):
            row[i] = a * x0[i]
        for m in range(1, n):
            a, xm = dy[m, o], x[m]
            for i in range(k):
                row[i] += a * xm[i]


def weight_grad(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dyᵀ · x for dy (N, O) and x (N, I), N ≥ 1: by outer products up to MAX_OUTER_ROWS rows, else BLAS."""
    if len(x) > schedule.MAX_OUTER_ROWS:
        return dy.T @ x
    dy, x = np.ascontiguousarray(dy), np.ascontiguousarray(x)
    dw = np.empty((dy.shape[1], x.shape[1]), dtype=x.dtype)
    schedule.over_channels(lambda o0, o1: outer_rows(dy, x, o0, o1, dw), dy.shape[1], dw.size)
    return dw
