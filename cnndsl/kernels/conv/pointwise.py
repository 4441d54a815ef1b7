"""1×1 convolution, no padding, one group: per image, a matrix product over the channels.

    y[n] (F, oh·ow) = w (F, C) @ x[n] (C, oh·ow) + b
    dx[n] = wᵀ @ dy[n],   dW = Σ_n dy[n] @ x[n]ᵀ

No columns to build at stride 1: the input already is the GEMM's operand (GoogLeNet's reductions and
ResNet's bottlenecks are mostly these). With a stride (ResNet's downsampling shortcuts) the operand is the
input's every sh-th row and sw-th column, copied once — a quarter of the input at stride 2, where im2col
walked it a column at a time — and the input gradient lands on those positions (zero elsewhere).
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from ..blas import add_product_t
from .epilogue import Epilogue, apply


def forward(x, w, b, stride, pad, dilation, groups, out_hw, epilogue=None):
    """The layer, with its bias and the epilogue (the batch norm and activation after it, at inference).
    On a batch of at least one image a thread, each thread's chunk is finished by the thread that wrote it,
    right after its matrix products; on fewer, one matrix product runs over BLAS's own threads and one
    pass over the channels finishes it (cutting the product by filters instead, each thread finishing its
    rows, ran 0–45 % slower at batch 1: docs/performance.md)."""
    n, f, cg = x.shape[0], w.shape[0], w.shape[1]
    oh, ow = out_hw
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    w2 = w.reshape(f, cg)
    finishing = b is not None or epilogue is not None
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    stage = Epilogue.or_none(epilogue, x.dtype).args(x.dtype)
    local = n >= schedule.workers()

    def chunk(lo: int, hi: int) -> None:
        xs = _sampled(x[lo:hi], stride).reshape(hi - lo, cg, -1)
        for i in range(hi - lo):  # image by image: each finished while its output is still in cache
            np.matmul(w2, xs[i], out=y[lo + i])
            if finishing and local:
                apply(y[lo + i:lo + i + 1], bias, *stage, 0, f)

    schedule.over_images(chunk, n, n * oh * ow, n * oh * ow * f * cg)
    if finishing and not local:
        schedule.over_channels(lambda c0, c1: apply(y, bias, *stage, c0, c1), f, y.size)
    return y.reshape(n, f, oh, ow)


def backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw):
    n, f, cg = x.shape[0], w.shape[0], w.shape[1]
    oh, ow = dy.shape[2:]
    dy3 = dy.reshape(n, f, oh * ow)
    strided = tuple(stride) != (1, 1)
    # at stride 1 the products write all of dx; strided, the positions no output saw stay zero
    dx = (np.zeros_like(x) if strided else np.empty_like(x)) if need_dx else None

    def chunk(lo: int, hi: int) -> np.ndarray:
        dw = np.zeros_like(w)
        w2, d3 = w.reshape(f, cg), dy3[lo:hi]
        x3 = _sampled(x[lo:hi], stride).reshape(hi - lo, cg, -1) if need_dw else None
        if need_dx and strided:  # onto the sampled positions; the others stay zero
            dx[lo:hi, :, ::stride[0], ::stride[1]] = np.matmul(w2.T, d3).reshape(hi - lo, cg, oh, ow)
        elif need_dx:
            np.matmul(w2.T, d3, out=dx[lo:hi].reshape(hi - lo, cg, -1))
        dw2 = dw.reshape(f, cg)
        for i in range(hi - lo if need_dw else 0):
            add_product_t(d3[i], x3[i], dw2)
        return dw

    parts = schedule.over_images(chunk, n, n * oh * ow, 2 * n * oh * ow * f * cg)
    return dx, (schedule.sum_parts(parts) if need_dw else None)


def _sampled(x: np.ndarray, stride) -> np.ndarray:
    """x at every stride-th row and column, contiguous (x itself at stride 1)."""
    if tuple(stride) == (1, 1):
        return x
    return np.ascontiguousarray(x[:, :, ::stride[0], ::stride[1]])
