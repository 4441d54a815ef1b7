"""Depthwise convolution (groups = input channels = output channels: MobileNet's 3×3 layers), any stride,
padding and dilation: each channel is its own small 2-D correlation, so the cores share the channels and
nothing is summed across them.

    forward:  y[n, c, oy, ox] = b[c] + Σ_ij w[c, 0, i, j] · x[n, c, oy·s + i·d − p, ox·s + j·d − p]
    backward: dx scatters dy back along the same taps; dW[c, 0, i, j] = Σ dy · x over the batch and positions

At stride 1 each channel's plane is padded and read flat (as direct.py's grid), so a tap is one long
contiguous multiply-add, three taps of a kernel row to a pass. Strided, the forward splits the padded plane
into stride-phase planes (every s-th row and column), on which each tap is again a stride-1 offset: the same
long passes. The strided backward goes one output row at a time, every tap into the row while it is in L1;
for each tap the output columns whose input column falls inside the image are a contiguous range, worked
out once, so the innermost loop has no test. The other algorithms would run one GEMM of a single filter
per channel (im2col) or one Python-level pass per group (direct).
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from ..jit import njit
from ..rows import copy, deinterleave, fill
from .epilogue import Epilogue, finish


@njit(cache=True, nogil=True, inline="always")
def _span(size_out: int, size_in: int, s: int, p: int, off: int):
    """The outputs o with 0 ≤ o·s − p + off < size_in: [lo, hi)."""
    lo = 0
    if off - p < 0:
        lo = (p - off + s - 1) // s
    hi = (size_in - 1 + p - off) // s + 1 if size_in - 1 + p - off >= 0 else 0
    return lo, min(max(hi, lo), size_out)


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
def _three_taps(grid, s0, s1, s2, w0, w1, w2, length):
    """grid[q] += w0·s0[q] + w1·s1[q] + w2·s2[q]: a kernel row of three taps (MobileNet's 3×3) in one pass,
    so that the grid is loaded and stored once for three multiply-adds (13–22 % faster at batch 1 here)."""
    for q in range(length):
        grid[q] += w0 * s0[q] + w1 * s1[q] + w2 * s2[q]


@njit(cache=True, nogil=True, inline="always")
def _one_tap(grid, src, wv, length):
    for q in range(length):
        grid[q] += wv * src[q]


@njit(cache=True, nogil=True, inline="always")
def _into_padded(src, ph, pw, plane):
    """plane[ph + iy, pw + ix] = src[iy, ix]; the border of plane stays as it is (zero). A loop, not
    an array assignment: numba's broadcasting checks for that cost 4 s of compiling."""
    for iy in range(src.shape[0]):
        copy(plane[ph + iy, pw:pw + src.shape[1]], src[iy])


@njit(cache=True, nogil=True)
def depthwise_forward_flat(x, w, b, has_bias, ph, pw, dh, dw, scale, shift, low, high, y, c0, c1):
    """Stride 1: each channel's plane zero-padded to hp × wp and read flat, so that a tap is one long
    contiguous multiply-add over the oh × wp grid (the columns past ow are dropped as the rows are written,
    with the epilogue: · scale + shift, clamped to low…high; epilogue.py)."""
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
                row, j = i * dh * wp, 0  # taps read flat[row + j·dw + q]: views, indexed from 0 (vectorized)
                while j + 3 <= kw:
                    _three_taps(grid, flat[row + j * dw:], flat[row + (j + 1) * dw:], flat[row + (j + 2) * dw:],
                                w[c, 0, i, j], w[c, 0, i, j + 1], w[c, 0, i, j + 2], length)
                    j += 3
                for j in range(j, kw):
                    _one_tap(grid, flat[row + j * dw:], w[c, 0, i, j], length)
            _write_rows(grid, wp, scale, shift, low, high, c, y[n, c])


@njit(cache=True, nogil=True, inline="always")
def _write_rows(grid, width, scale, shift, low, high, c, plane):
    """plane[oy] = the grid's row oy (width wide, the first ow kept), through channel c's epilogue. The
    forward kernels are compiled without fast-math contraction (as fast here, measured): · s + t then stays
    a multiply and an add, bit for bit the unfused batch norm's."""
    affine = scale.shape[0] > 0
    s = scale[c] if affine else plane.dtype.type(1)
    t = shift[c] if affine else plane.dtype.type(0)
    ow = plane.shape[1]
    for oy in range(plane.shape[0]):
        finish(grid[oy * width:oy * width + ow], plane[oy], affine, s, t, low, high)


@njit(cache=True, nogil=True, inline="always")
def _tap(phases, ri, qi, col, sw, wq):
    """What a tap reads, as a view from 0: phase plane (ri, col mod sw) from row qi, column col div sw
    (col = j·dw for tap column j)."""
    return phases[ri, col % sw, qi * wq + col // sw:]


@njit(cache=True, nogil=True)
def _phase_rows(src, phases, sh, sw, ph, pw, wq):
    """phases[r, t, a·wq + e] = P[a·sh + r, e·sw + t], P the plane src zero-padded by ph, pw (the entries
    outside the image are left as they are: zero from the start)."""
    h, wd = src.shape
    hq = phases.shape[2] // wq
    for r in range(sh):
        for a in range(hq):
            iy = a * sh + r - ph
            if iy < 0 or iy >= h:
                continue
            for t in range(sw):
                lo, hi = _span(wq, wd, sw, pw, t)  # the columns inside the image: no test per element
                d, row = phases[r, t, a * wq + lo:a * wq + hi], src[iy, lo * sw + t - pw:]
                for e in range(hi - lo):
                    d[e] = row[e * sw]


@njit(cache=True, nogil=True)
def _phase_rows2(src, phases, sh, ph, pw, wq):
    """_phase_rows at a column stride of 2: each row's two phases in one pass, src[iy, 2k] and
    src[iy, 2k + 1] to their phases' columns k + ⌊pw/2⌋ and k + ⌊(pw + 1)/2⌋."""
    h = src.shape[0]
    hq = phases.shape[2] // wq
    te, to = pw % 2, (pw + 1) % 2
    for r in range(sh):
        for a in range(hq):
            iy = a * sh + r - ph
            if iy < 0 or iy >= h:
                continue
            deinterleave(src[iy], phases[r, te, a * wq + pw // 2:(a + 1) * wq],
                         phases[r, to, a * wq + (pw + 1) // 2:(a + 1) * wq])


@njit(cache=True, nogil=True)
def depthwise_forward_phases(x, w, b, has_bias, sh, sw, ph, pw, dh, dw, scale, shift, low, high, y, c0, c1):
    """Strided: each channel's zero-padded plane P split into sh × sw phase planes, phase (r, t)[a, e] =
    P[a·sh + r, e·sw + t], so that tap (i, j) reads phase ((i·dh) mod sh, (j·dw) mod sw) at the stride-1
    offset ((i·dh) div sh, (j·dw) div sw): one long contiguous multiply-add over an oh × wq grid, as
    depthwise_forward_flat's, instead of one strided pass per output row and tap."""
    n_img, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    hq, wq = (h + 2 * ph + sh - 1) // sh, (wd + 2 * pw + sw - 1) // sw
    length = (oh - 1) * wq + ow
    phases = np.zeros((sh, sw, hq * wq), x.dtype)
    grid = np.empty(length, x.dtype)
    for n in range(n_img):
        for c in range(c0, c1):
            src = x[n, c]
            if sw == 2:  # a loop nest of its own, at a stride the compiler knows (entry 83)
                _phase_rows2(src, phases, sh, ph, pw, wq)
            else:
                _phase_rows(src, phases, sh, sw, ph, pw, wq)
            fill(grid, b[c] if has_bias else x.dtype.type(0))
            for i in range(kh):
                qi, ri = (i * dh) // sh, (i * dh) % sh
                j = 0
                while j + 3 <= kw:
                    _three_taps(grid, _tap(phases, ri, qi, j * dw, sw, wq), _tap(phases, ri, qi, (j + 1) * dw, sw, wq),
                                _tap(phases, ri, qi, (j + 2) * dw, sw, wq),
                                w[c, 0, i, j], w[c, 0, i, j + 1], w[c, 0, i, j + 2], length)
                    j += 3
                for j in range(j, kw):
                    _one_tap(grid, _tap(phases, ri, qi, j * dw, sw, wq), w[c, 0, i, j], length)
            _write_rows(grid, wq, scale, shift, low, high, c, y[n, c])


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


def forward(x, w, b, stride, pad, dilation, groups, out_hw, epilogue=None):
    """The layer, with the batch norm and activation after it applied as each row is written (epilogue)."""
    n, c = x.shape[:2]
    y = np.empty((n, c) + tuple(out_hw), dtype=x.dtype)
    bias = b if b is not None else np.zeros(1, dtype=x.dtype)
    xc = np.ascontiguousarray(x)
    stage = Epilogue.or_none(epilogue, x.dtype).args(x.dtype)

    def run(c0: int, c1: int) -> None:
        if tuple(stride) == (1, 1):
            depthwise_forward_flat(xc, w, bias, b is not None, *pad, *dilation, *stage, y, c0, c1)
        else:
            depthwise_forward_phases(xc, w, bias, b is not None, *stride, *pad, *dilation, *stage, y, c0, c1)

    schedule.over_channels(run, c, y.size * w.shape[2] * w.shape[3])
    return y


def backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw):
    c = x.shape[1]
    dx = np.empty_like(x) if need_dx else np.empty((1, 1, 1, 1), dtype=x.dtype)
    dwt = np.zeros(w.shape, dtype=np.float64)  # summed over the batch and every position: kept in float64
    dyc, xc = np.ascontiguousarray(dy), np.ascontiguousarray(x)

    def run(c0: int, c1: int) -> None:
        if tuple(stride) == (1, 1):
            depthwise_backward_flat(dyc, xc, w, *pad, *dilation, need_dx, dx, dwt, c0, c1)
        else:
            depthwise_backward(dyc, xc, w, *stride, *pad, *dilation, need_dx, dx, dwt, c0, c1)

    schedule.over_channels(run, c, dy.size * w.shape[2] * w.shape[3])
    return (dx if need_dx else None), (dwt.astype(w.dtype) if need_dw else None)
