"""Direct convolution on the padded-width grid (flat.py), register-blocked: eight filters × five
taps at a time forward, four × five for the weight gradient.

    acc[f, q] += Σ_g Σ_t wt[g, f, t] · src[offs[g, t] + q]     q < count, on one image's flat planes
    dwt[g, f, t] += Σ_q d[f, q] · src[offs[g, t] + q]          d: the output gradient on the grid

The taps (c, i, j) of a filter are listed as offsets c·S + i·dh·Wp + j·dw into the image's planes and
dealt out five to a group (the last padded with zero weights). Each pass over the grid loads five shifted
input vectors and updates eight accumulator rows with 40 multiply-adds, against one load, one
multiply-add and one store per tap in a plain loop: LeNet-5's first layer runs at 2.2× the rate of that
loop and its second at 1.2× that of im2col + GEMM (docs/performance.md). numba keeps the 40 weights in
registers only when they are named locals, hence the spelled-out body. A last block of fewer than eight
filters is padded with zero weights (LeNet's 6 and 16 filters fill one and two blocks). The weight
gradient keeps its 4 × 5 sums in vector registers over each image's grid: 20 multiply-adds per 9 loads.
The two inner kernels are inlined into their one caller each: numba then compiles them once, not once
alone and again inside the caller, and LLVM sees that the accumulators are the caller's own fresh array,
not one that may overlap the input (forward 1.2–1.3× faster; docs/performance.md, entry 79).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..jit import njit
from ..rows import copy, fill

GROUP = 5  # taps per pass
VECTOR = 16  # grid positions are computed in whole AVX-512 vectors (float32)


@njit(cache=True, nogil=True, fastmath={"contract"}, inline="always")
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


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"}, inline="always")
def _grad4(src, d, offs, count, out):
    """out[g, f, t] += Σ_q d[f, q] · src[offs[g, t] + q] for q < count: four filters' gradient rows d
    (4, ≥count) against five taps at a time, in 20 vector accumulators (reassociated, so they vectorize)."""
    d0, d1, d2, d3 = d[0], d[1], d[2], d[3]
    zero = src.dtype.type(0)
    for g in range(offs.shape[0]):
        s0, s1, s2 = src[offs[g, 0]:], src[offs[g, 1]:], src[offs[g, 2]:]
        s3, s4 = src[offs[g, 3]:], src[offs[g, 4]:]
        a00 = a01 = a02 = a03 = a04 = a10 = a11 = a12 = a13 = a14 = zero
        a20 = a21 = a22 = a23 = a24 = a30 = a31 = a32 = a33 = a34 = zero
        for q in range(count):
            x0, x1, x2, x3, x4 = s0[q], s1[q], s2[q], s3[q], s4[q]
            e = d0[q]
            a00 += e * x0; a01 += e * x1; a02 += e * x2; a03 += e * x3; a04 += e * x4
            e = d1[q]
            a10 += e * x0; a11 += e * x1; a12 += e * x2; a13 += e * x3; a14 += e * x4
            e = d2[q]
            a20 += e * x0; a21 += e * x1; a22 += e * x2; a23 += e * x3; a24 += e * x4
            e = d3[q]
            a30 += e * x0; a31 += e * x1; a32 += e * x2; a33 += e * x3; a34 += e * x4
        o = out[g]
        o[0, 0] += a00; o[0, 1] += a01; o[0, 2] += a02; o[0, 3] += a03; o[0, 4] += a04
        o[1, 0] += a10; o[1, 1] += a11; o[1, 2] += a12; o[1, 3] += a13; o[1, 4] += a14
        o[2, 0] += a20; o[2, 1] += a21; o[2, 2] += a22; o[2, 3] += a23; o[2, 4] += a24
        o[3, 0] += a30; o[3, 1] += a31; o[3, 2] += a32; o[3, 3] += a33; o[3, 4] += a34


@lru_cache(maxsize=256)
def tap_offsets(c: int, kh: int, kw: int, s: int, wp: int, dh: int, dw: int) -> np.ndarray:
    """The taps (c, i, j) of a filter as offsets c·S + i·dh·Wp + j·dw, five to a row (G, 5); padding taps
    read offset 0 and get zero weight. Kept per shape, so callers never write it (a read-only flag would
    give numba a second type to compile for): building it was a quarter of LeNet-5's forward at batch 1."""
    cc, ii, jj = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
    taps = (cc * s + ii * dh * wp + jj * dw).ravel()
    offs = np.zeros(-(-taps.size // GROUP) * GROUP, dtype=np.int64)
    offs[:taps.size] = taps
    return offs.reshape(-1, GROUP)


def weight_blocks(w: np.ndarray, groups_of_taps: int, width: int) -> list[np.ndarray]:
    """w (F, C, kh, kw) → per block of `width` filters, its weights (G, width, 5), zero-padded."""
    f = w.shape[0]
    flat = np.zeros((-(-f // width) * width, groups_of_taps * GROUP), dtype=w.dtype)
    flat[:f, :w[0].size] = w.reshape(f, -1)
    return [np.ascontiguousarray(flat[f0:f0 + width].reshape(width, groups_of_taps, GROUP).transpose(1, 0, 2))
            for f0 in range(0, f, width)]


def unblock(parts: np.ndarray, shape: tuple) -> np.ndarray:
    """The inverse of weight_blocks: parts (B, G, width, 5) → (F, C, kh, kw)."""
    b, g, width, _ = parts.shape
    f = shape[0]
    k = int(np.prod(shape[1:]))
    return parts.transpose(0, 2, 1, 3).reshape(b * width, g * GROUP)[:f, :k].reshape(shape)


@njit(cache=True, nogil=True, fastmath={"contract"})
def forward_block(buf, stride, n0, offs, reach, wt, f0, real, bias, wp, y):
    """y[i, f0 + f] for f < real, the filters of one block, from image n0 + i of buf: its zero-padded
    planes (C·S floats) at (n0 + i)·stride. The grid is computed in whole vectors where buf has room for
    the extra reads (they land in the next image or buf's margin, and in dropped columns); `reach` is the
    largest offset (the caller's offs.max(): numba's compiles for 0.3 s)."""
    oh, ow = y.shape[2], y.shape[3]
    length = (oh - 1) * wp + ow
    padded = (length + VECTOR - 1) // VECTOR * VECTOR
    acc = np.empty((8, padded), dtype=y.dtype)
    for i in range(y.shape[0]):
        for f in range(8):
            fill(acc[f], bias[f0 + f] if f < real and bias.shape[0] > 0 else y.dtype.type(0))
        src = buf[(n0 + i) * stride:]
        _taps8(src, offs, wt, acc, padded if reach + padded <= src.shape[0] else length)
        for f in range(real):
            for oy in range(oh):
                copy(y[i, f0 + f, oy], acc[f, oy * wp:oy * wp + ow])


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def weight_grad_block(buf, stride, n0, offs, reach, dy, f0, real, wp, out):
    """out[g, f, t] += Σ_i Σ_q dy[i, f0 + f] (on the grid) · buf[(n0 + i)·stride + offs[g, t] + q], for
    f < real of a block of four filters; buf as in forward_block."""
    oh, ow = dy.shape[2], dy.shape[3]
    length = (oh - 1) * wp + ow
    padded = (length + VECTOR - 1) // VECTOR * VECTOR
    d = np.zeros((4, padded), dtype=dy.dtype)  # the gradient on the grid: zero in the dropped columns
    for i in range(dy.shape[0]):
        for f in range(real):
            for oy in range(oh):
                copy(d[f, oy * wp:oy * wp + ow], dy[i, f0 + f, oy])
        src = buf[(n0 + i) * stride:]
        _grad4(src, d, offs, padded if reach + padded <= src.shape[0] else length, out)
