"""Direct convolution on the padded-width grid (kernels/flat.py), register-blocked: eight filters × five
taps at a time.

    acc[f, q] += Σ_g Σ_t wt[g, f, t] · src[offs[g, t] + q]     q < count, on one image's flat planes

The taps (c, i, j) of a filter are listed as offsets c·S + i·dh·Wp + j·dw into the image's planes and
dealt out five to a group (the last padded with zero weights). Each pass over the grid loads five shifted
input vectors and updates eight accumulator rows with 40 multiply-adds, against one load, one
multiply-add and one store per tap in a plain loop: LeNet-5's first layer runs at 2.2× the rate of that
loop and its second at 1.2× that of im2col + GEMM (docs/performance.md). numba keeps the 40 weights in
registers only when they are named locals, hence the spelled-out body. A last block of fewer than eight
filters is padded with zero weights (LeNet's 6 and 16 filters fill one and two blocks).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rows import copy, fill

GROUP = 5  # taps per pass
VECTOR = 16  # grid positions are computed in whole AVX-512 vectors (float32)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _taps8(src, offs, wt, acc, count):
    """acc (8, ≥count) += the taps of offs (G, 5) with weights wt (G, 8, 5) over src (C·S + margin)."""
    r0, r1, r2, r3, r4, r5, r6, r7 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]
    for g in range(offs.shape[0]):
        s0, s1, s2 = src[offs[g, 0]:], src[offs[g, 1]:], src[offs[g, 2]:]
        s3, s4 = src[offs[g, 3]:], src[offs[g, 4]:]
        w = wt[g]
        w00, w01, w02, w03, w04 = w[0, 0], w[0, 1], w[0, 2], w[0, 3], w[0, 4]
        w10, w11, w12, w13, w14 = w[1, 0], w[1, 1], w[1, 2], w[1, 3], w[1, 4]
        w20, w21, w22, w23, w24 = w[2, 0], w[2, 1], w[2, 2], w[2, 3], w[2, 4]
        w30, w31, w32, w33, w34 = w[3, 0], w[3, 1], w[3, 2], w[3, 3], w[3, 4]
        w40, w41, w42, w43, w44 = w[4, 0], w[4, 1], w[4, 2], w[4, 3], w[4, 4]
        w50, w51, w52, w53, w54 = w[5, 0], w[5, 1], w[5, 2], w[5, 3], w[5, 4]
        w60, w61, w62, w63, w64 = w[6, 0], w[6, 1], w[6, 2], w[6, 3], w[6, 4]
        w70, w71, w72, w73, w74 = w[7, 0], w[7, 1], w[7, 2], w[7, 3], w[7, 4]
        for q in range(count):
            x0, x1, x2, x3, x4 = s0[q], s1[q], s2[q], s3[q], s4[q]
            r0[q] += w00 * x0 + w01 * x1 + w02 * x2 + w03 * x3 + w04 * x4
            r1[q] += w10 * x0 + w11 * x1 + w12 * x2 + w13 * x3 + w14 * x4
            r2[q] += w20 * x0 + w21 * x1 + w22 * x2 + w23 * x3 + w24 * x4
            r3[q] += w30 * x0 + w31 * x1 + w32 * x2 + w33 * x3 + w34 * x4
            r4[q] += w40 * x0 + w41 * x1 + w42 * x2 + w43 * x3 + w44 * x4
            r5[q] += w50 * x0 + w51 * x1 + w52 * x2 + w53 * x3 + w54 * x4
            r6[q] += w60 * x0 + w61 * x1 + w62 * x2 + w63 * x3 + w64 * x4
            r7[q] += w70 * x0 + w71 * x1 + w72 * x2 + w73 * x3 + w74 * x4


def tap_table(w: np.ndarray, s: int, wp: int, dh: int, dw: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """w (F, C, kh, kw) → offs (G, 5) and, per block of eight filters, its weights (G, 8, 5), zero for
    padding taps (offset 0) and padding filters."""
    f, c, kh, kw = w.shape
    cc, ii, jj = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
    taps = (cc * s + ii * dh * wp + jj * dw).ravel()
    g = -(-taps.size // GROUP)
    offs = np.zeros(g * GROUP, dtype=np.int64)
    offs[:taps.size] = taps
    flat = np.zeros((f, g * GROUP), dtype=w.dtype)
    flat[:, :taps.size] = w.reshape(f, -1)
    blocks = []
    for f0 in range(0, f, 8):
        block = np.zeros((8, g * GROUP), dtype=w.dtype)
        block[:min(8, f - f0)] = flat[f0:f0 + 8]
        blocks.append(np.ascontiguousarray(block.reshape(8, g, GROUP).transpose(1, 0, 2)))
    return offs.reshape(g, GROUP), blocks


@njit(cache=True, nogil=True)
def forward_block(buf, stride, n0, n1, offs, wt, f0, real, bias, wp, y):
    """y[n, f0 + f], f < real, for images n0…n1 and the filters of one block. buf holds image n's zero-padded planes
    at n·stride (C·S floats); the grid is computed in whole vectors where buf has room for the extra
    reads (they land in the next image or the margin, and in dropped columns)."""
    oh, ow = y.shape[2], y.shape[3]
    length = (oh - 1) * wp + ow
    padded = (length + VECTOR - 1) // VECTOR * VECTOR
    acc = np.empty((8, padded), dtype=y.dtype)
    reach = offs.max()
    for n in range(n0, n1):
        for f in range(8):
            fill(acc[f], bias[f0 + f] if f < real and bias.shape[0] > 0 else y.dtype.type(0))
        src = buf[n * stride:]
        count = padded if reach + padded <= src.shape[0] else length
        _taps8(src, offs, wt, acc, count)
        for f in range(real):
            for oy in range(oh):
                copy(y[n, f0 + f, oy], acc[f, oy * wp:oy * wp + ow])
