"""Convolution, fast tier: one entry point per direction. kernels/schedule.py picks the algorithm for
the layer's shapes; each algorithm is a module of this package, with the same two functions.

    x (N, C, H, W), w (F, C/g, kh, kw), b (F,) → y (N, F, oh, ow)

    im2col.py     columns and one GEMM per tile (any kernel, stride, dilation, groups)
    pointwise.py  1×1, no padding: one GEMM per image (a strided one on the sampled input)
    winograd.py   3×3 stride 1: F(2×2, 3×3)
    winograd4.py  3×3 stride 1 on wide maps: forward by F(4×4, 3×3), backward by winograd.py
    direct.py     stride 1, few filters: taps on the padded-width grid (flat.py, taps.py)
    depthwise.py  one filter per channel (groups = channels), any stride: a loop per channel and tap
    epilogue.py   at inference, the batch norm and ReLU after a convolution, applied as it writes

The readable twin of them all: kernels/reference/conv.py; tests/kernels/ checks each against it.
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from ..jit import njit
from . import depthwise, direct, im2col, pointwise, winograd, winograd4
from .epilogue import Epilogue, apply

ALGORITHMS = {"im2col": im2col, "pointwise": pointwise, "winograd": winograd, "winograd4": winograd4,
              "direct": direct, "depthwise": depthwise}


def algorithm(w_shape, stride, pad, dilation, groups: int, n: int, out_hw):
    """The module that runs this layer (schedule.conv_algorithm's choice)."""
    return ALGORITHMS[schedule.conv_algorithm(w_shape, stride, pad, dilation, groups, n, out_hw)]


# These apply the epilogue as they write (or image by image, as they finish); the direct path gets a pass after.
NATIVE_EPILOGUE = (im2col, winograd, winograd4, depthwise, pointwise)


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, pad, dilation, groups: int,
                 out_hw, epilogue: Epilogue | None = None) -> np.ndarray:
    """The convolution; with an epilogue (inference), the batch norm and activation after it too."""
    impl = algorithm(w.shape, stride, pad, dilation, groups, x.shape[0], out_hw)
    if epilogue is None:
        return impl.forward(x, w, b, stride, pad, dilation, groups, out_hw)
    if impl in NATIVE_EPILOGUE:
        return impl.forward(x, w, b, stride, pad, dilation, groups, out_hw, epilogue)
    y = impl.forward(x, w, b, stride, pad, dilation, groups, out_hw)  # the bias added as the path adds it
    y3 = y.reshape(y.shape[0], y.shape[1], -1)
    none, stage = np.empty(0, dtype=x.dtype), epilogue.args(x.dtype)
    schedule.over_channels(lambda c0, c1: apply(y3, none, *stage, c0, c1), y.shape[1], y.size)
    return y


def conv_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, has_bias: bool, stride, pad, dilation,
                  groups: int, need_dx: bool = True, need_dw: bool = True):
    """→ dx, dw, db (dx None unless need_dx, dw unless need_dw, db None without bias)."""
    db = bias_grad(dy.reshape(dy.shape[0], dy.shape[1], -1)) if has_bias else None
    impl = algorithm(w.shape, stride, pad, dilation, groups, x.shape[0], dy.shape[2:])
    if need_dx and impl in (winograd, winograd4) and winograd.input_gradient_by_f4(w.shape, pad, groups, x.shape[0],
                                                                                 x.shape[2:]):
        dx = winograd4.forward(dy, winograd.turned(w, groups), None, (1, 1), winograd.gradient_pad(pad), (1, 1),
                               groups, x.shape[2:])  # the input gradient as a convolution of dy
        dw = impl.backward(dy, x, w, stride, pad, dilation, groups, False, True)[1] if need_dw else None
        return dx, dw, db
    dx, dw = impl.backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw)
    return dx, dw, db


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _bias_grad(dy, db):
    """db[f] += Σ_n Σ_p dy[n, f, p]; dy (N, F, P), db float64. In float64 throughout: before batch norm
    the true gradient is 0 and the terms cancel. Reassociation (only) lets the loop vectorize."""
    n_img, n_f, p = dy.shape
    for f in range(n_f):
        acc = 0.0
        for n in range(n_img):
            row = dy[n, f]
            for k in range(p):
                acc += np.float64(row[k])
        db[f] += acc


def bias_grad(dy: np.ndarray) -> np.ndarray:
    """Σ over the batch and positions of dy (N, F, P), over the cores."""
    def part(lo: int, hi: int) -> np.ndarray:
        db = np.zeros(dy.shape[1])
        _bias_grad(dy[lo:hi], db)
        return db
    return sum(schedule.over_batch(part, len(dy), dy.size)).astype(dy.dtype)
