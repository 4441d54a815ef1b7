"""Depthwise convolution (groups = input channels = output channels: MobileNet's 3×3 layers), any stride,
padding and dilation: each channel is its own small 2-D correlation, so the cores share the channels and
nothing is summed across them.

    forward:  y[n, c, oy, ox] = b[c] + Σ_ij w[c, 0, i, j] · x[n, c, oy·s + i·d − p, ox·s + j·d − p]
    backward: dx scatters dy back along the same taps; dW[c, 0, i, j] = Σ dy · x over the batch and positions

At stride 1 each channel's plane is padded and read flat (as direct.py's grid), so a tap is one long
contiguous multiply-add. Strided, output rows are done one at a time, every tap into the row while it is in
L1; for each tap the output
columns whose input column falls inside the image are a contiguous range, worked out once, so the innermost
loop has no test (and vectorizes at stride 1). The other algorithms would run one
GEMM of a single filter per channel (im2col) or one Python-level pass per group (direct).
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from ..jit import njit
from ..rows import copy, fill


@njit(cache=True, nogil=True, inline="always")
def _span(size_out: int, size_in: int, s: int, p: int, off: int):
    """The outputs o with 0 ≤ o·s − p + off < size_in: [lo, hi)."""
    lo = 0
    if off - p < 0:
        lo = (p - off + s - 1) // s
    hi = (size_in - 1 + p - off) // s + 1 if size_in - 1 + p - off >= 0 else 0
    return lo, min(max(hi, lo), size_out)


@njit(cache=True, nogil=True, fastmath={"contract"})
def depthwise_forward(x, w, b, has_bias, sh, sw, ph, pw, dh, dw, y, c0, c1):
    n_img, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    lo, hi = np.empty(kw, np.int64), np.empty(kw, np.int64)
    for j in range(kw):
        lo[j], hi[j] = _span(ow, wd, sw, pw, j * dw)
    for n in range(n_img):
        for c in range(c0, c1):
            src = x[n, c]
            bias = b[c] if has_bias else x.dtype.type(0)
            for oy in range(oh):  # one output row at a time, every tap into it while it is in L1
                dst = y[n, c, oy]
                fill(dst, bias)
                for i in range(kh):
                    iy = oy * sh - ph + i * dh
                    if iy < 0 or iy >= h:
                        continue
                    row = src[iy]
                    for j in range(kw):
                        wv = w[c, 0, i, j]
                        a, e = lo[j], hi[j]
                        d, r = dst[a:e], row[a * sw + j * dw - pw:]  # views indexed from 0 (no wraparound checks)
                        for k in range(e - a):
                            d[k] += wv * r[k * sw]


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def depthwise_backward(dy, x, w, sh, sw, ph, pw, dh, dw, need_dx, dx, dwt, c0, c1):
    n_img, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    oh, ow = dy.shape[2], dy.shape[3]
    lo, hi = np.empty(kw, np.int64), np.empty(kw, np.int64)
    for j in range(kw):
        lo[j], hi[j] = _span(ow, wd, sw, pw, j * dw)
    acc = np.zeros((kh, kw), np.float64)
    for c in range(c0, c1):
        for i in range(kh):
            fill(acc[i], 0.0)
        for n in range(n_img):
            src = x[n, c]
            if need_dx:
                for iy in range(h):
                    fill(dx[n, c, iy], 0)
            for oy in range(oh):
                grow = dy[n, c, oy]
                for i in range(kh):
                    iy = oy * sh - ph + i * dh
                    if iy < 0 or iy >= h:
                        continue
                    row = src[iy]
                    for j in range(kw):
                        a, e = lo[j], hi[j]
                        start = a * sw + j * dw - pw
                        g, r = grow[a:e], row[start:]  # views indexed from 0 (no wraparound checks)
                        part = 0.0
                        for k in range(e - a):
                            part += g[k] * r[k * sw]
                        acc[i, j] += part
                        if need_dx:
                            wv = w[c, 0, i, j]
                            dr = dx[n, c, iy, start:]
                            for k in range(e - a):
                                dr[k * sw] += wv * g[k]
        for i in range(kh):
            for j in range(kw):
                dwt[c, 0, i, j] += acc[i, j]


@njit(cache=True, nogil=True, inline="always")
def _into_padded(src, ph, pw, plane):
    """plane[ph + iy, pw + ix] = src[iy, ix]; the border of plane stays as it is (zero). A loop, not
    an array assignment: numba's broadcasting checks for that cost 4 s of compiling."""
    for iy in range(src.shape[0]):
        copy(plane[ph + iy, pw:pw + src.shape[1]], src[iy])


@njit(cache=True, nogil=True, fastmath={"contract"})
def depthwise_forward_flat(x, w, b, has_bias, ph, pw, dh, dw, y, c0, c1):
    """Stride 1: each channel's plane zero-padded to hp × wp and read flat, so that a tap is one long
    contiguous multiply-add over the oh × wp grid (the columns past ow are dropped at the end)."""
    n_img, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    hp, wp = h + 2 * ph, wd + 2 * pw
    length = (oh - 1) * wp + ow
    plane = np.zeros((hp, wp), x.dtype)
    flat = plane.reshape(-1)
    grid = np.empty(length, x.dtype)
    for n in range(n_img):
        for c in range(c0, c1):
            _into_padded(x[n, c], ph, pw, plane)
            fill(grid, b[c] if has_bias else x.dtype.type(0))
            for i in range(kh):
                for j in range(kw):
                    wv = w[c, 0, i, j]
                    off = i * dh * wp + j * dw
                    src = flat[off:off + length]  # a view: indices from 0, which LLVM can vectorize
                    for q in range(length):
                        grid[q] += wv * src[q]
            for oy in range(oh):
                copy(y[n, c, oy], grid[oy * wp:oy * wp + ow])


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def depthwise_backward_flat(dy, x, w, ph, pw, dh, dw, need_dx, dx, dwt, c0, c1):
    n_img, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    oh, ow = dy.shape[2], dy.shape[3]
    hp, wp = h + 2 * ph, wd + 2 * pw
    length = (oh - 1) * wp + ow
    plane = np.zeros((hp, wp), x.dtype)
    flat = plane.reshape(-1)
    dplane = np.zeros((hp, wp), x.dtype)
    dflat = dplane.reshape(-1)
    grid = np.zeros(length + wp, x.dtype)  # dy on the padded-width grid, zeros between the rows
    for c in range(c0, c1):
        for n in range(n_img):
            _into_padded(x[n, c], ph, pw, plane)
            for oy in range(oh):
                copy(grid[oy * wp:oy * wp + ow], dy[n, c, oy])
            if need_dx:
                fill(dflat, 0)
            for i in range(kh):
                for j in range(kw):
                    off = i * dh * wp + j * dw
                    src = flat[off:off + length]  # views: indices from 0, which LLVM can vectorize
                    acc = 0.0
                    for q in range(length):
                        acc += grid[q] * src[q]
                    dwt[c, 0, i, j] += acc
                    if need_dx:
                        wv = w[c, 0, i, j]
                        dst = dflat[off:off + length]
                        for q in range(length):
                            dst[q] += wv * grid[q]
            if need_dx:
                for iy in range(h):
                    copy(dx[n, c, iy], dplane[ph + iy, pw:pw + wd])


def is_depthwise(w_shape, groups: int) -> bool:
    f, cg = w_shape[0], w_shape[1]
    return groups > 1 and cg == 1 and f == groups


def forward(x, w, b, stride, pad, dilation, groups, out_hw):
    n, c = x.shape[:2]
    y = np.empty((n, c) + tuple(out_hw), dtype=x.dtype)
    bias = b if b is not None else np.zeros(1, dtype=x.dtype)
    xc = np.ascontiguousarray(x)
    if tuple(stride) == (1, 1):
        run = lambda c0, c1: depthwise_forward_flat(xc, w, bias, b is not None, *pad, *dilation, y, c0, c1)  # noqa: E731
    else:
        run = lambda c0, c1: depthwise_forward(xc, w, bias, b is not None, *stride, *pad, *dilation, y, c0, c1)  # noqa: E731
    schedule.over_channels(run, c, y.size * w.shape[2] * w.shape[3])
    return y


def backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw):
    c = x.shape[1]
    dx = np.empty_like(x) if need_dx else np.empty((1, 1, 1, 1), dtype=x.dtype)
    dwt = np.zeros(w.shape, dtype=np.float64)  # summed over the batch and every position: kept in float64
    dyc, xc = np.ascontiguousarray(dy), np.ascontiguousarray(x)
    if tuple(stride) == (1, 1):
        run = lambda c0, c1: depthwise_backward_flat(dyc, xc, w, *pad, *dilation, need_dx, dx, dwt, c0, c1)  # noqa: E731
    else:
        run = lambda c0, c1: depthwise_backward(dyc, xc, w, *stride, *pad, *dilation, need_dx, dx, dwt, c0, c1)  # noqa: E731
    schedule.over_channels(run, c, dy.size * w.shape[2] * w.shape[3])
    return (dx if need_dx else None), (dwt.astype(w.dtype) if need_dw else None)
