"""What a convolution applies to its outputs as it writes them, at inference: the batch norm after it and
the ReLU or ReLU6 after that, so that neither makes a pass of its own over the output.

    y = min(max((conv + bias) · scale + shift, lo), hi)      scale, shift per output channel

scale and shift are the batch norm's own, computed as its kernel computes them (scale = γ / √(σ² + ε),
shift = β − μ·scale, in float64 and then rounded), and applied in the same order, so that the result is
bit for bit the unfused one; a ReLU is lo = 0, a ReLU6 also hi = 6. Winograd's output transform,
im2col's scatter and the depthwise kernels apply it as they write each value; the 1×1 path applies it
(`apply`) to each image right after that image's matrix product, in the thread that computed it; the
direct path writes its output first, and `apply` then makes the one pass the batch norm would have made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..jit import njit
from ..normalization import bn_affine


@dataclass(frozen=True)
class Epilogue:
    scale: np.ndarray  # (F,), or empty: no affine part
    shift: np.ndarray
    lo: float = -math.inf
    hi: float = math.inf

    @staticmethod
    def batchnorm(gamma, beta, mean, var, eps: float, dtype) -> tuple[np.ndarray, np.ndarray]:
        """The batch norm's scale and shift, rounded as its kernel rounds them (normalization.py)."""
        scale, shift = np.empty(gamma.shape[0], dtype), np.empty(gamma.shape[0], dtype)
        bn_affine(mean, var, gamma, beta, float(eps), scale, shift)
        return scale, shift

    @staticmethod
    def or_none(epilogue: "Epilogue | None", dtype) -> "Epilogue":
        """The epilogue, or one that changes nothing."""
        return epilogue if epilogue is not None else Epilogue(np.empty(0, dtype), np.empty(0, dtype))

    def args(self, dtype=np.float32) -> tuple:
        """(scale, shift, lo, hi) for a kernel, the bounds in the arrays' dtype (a float64 bound would make
        the clamp compute in float64)."""
        return self.scale, self.shift, np.dtype(dtype).type(self.lo), np.dtype(dtype).type(self.hi)


@njit(cache=True, nogil=True, inline="always")
def channel(bias, scale, shift, c, y):
    """Channel c's bias, scale and shift, in y's dtype: 0, 1 and 0 where the array is empty."""
    zero, one = y.dtype.type(0), y.dtype.type(1)
    b = bias[c] if bias.shape[0] > 0 else zero
    affine = scale.shape[0] > 0
    return b, (scale[c] if affine else one), (shift[c] if affine else zero)


@njit(cache=True, nogil=True, inline="always")
def finish(src, dst, affine, s, t, lo, hi):
    """dst[k] = min(max(src[k] · s + t, lo), hi) for k < len(dst) (· s + t only where `affine`)."""
    for k in range(dst.shape[0]):
        v = src[k]
        if affine:
            v = v * s + t
        dst[k] = min(max(v, lo), hi)


@njit(cache=True, nogil=True)
def apply(y, bias, scale, shift, lo, hi, c0, c1):
    """y (N, F, P) in place, channels c0…c1: (y + bias) · scale + shift, clamped to lo…hi (empty bias or
    scale: none)."""
    has_bias, affine = bias.shape[0] > 0, scale.shape[0] > 0
    for c in range(c0, c1):
        b, s, t = channel(bias, scale, shift, c, y)
        for n in range(y.shape[0]):
            row = y[n, c]
            if has_bias:
                for q in range(row.shape[0]):
                    row[q] = row[q] + b
            finish(row, row, affine, s, t, lo, hi)
