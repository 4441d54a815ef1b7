"""Pooling: max (with the argmax kept for backward), average (padded zeros counted, PyTorch's
count_include_pad=True, the window clipped to the padded input), and global average.

    x (N, C, H, W) → y (N, C, oh, ow);   window (oy, ox) = rows oy·sh − ph … +kh, cols ox·sw − pw … +kw
"""

from __future__ import annotations

import numpy as np

from .jit import njit
from .rows import fill, inside


@njit(cache=True, nogil=True, inline="always")
def _max_tap(plane, iy, lo, hi, sw, off, w, best, where):
    """best[ox] = max(best[ox], plane[iy, ox·sw + off]) for ox in lo…hi, where[ox] the winner's flat index
    iy·W + ix: branch-free on slices from 0 (no negative indices), so that it vectorizes."""
    src = plane[iy, lo * sw + off:]
    b, k = best[lo:hi], where[lo:hi]
    base = np.int32(iy * w + lo * sw + off)
    for q in range(hi - lo):
        v, old = src[q * sw], b[q]
        gt = v > old
        b[q] = v if gt else old
        k[q] = base + np.int32(q * sw) if gt else k[q]


@njit(cache=True, nogil=True, inline="always")
def _max_row(plane, y0, kh, kw, sw, pw, best, where):
    """The output row whose windows start at input row y0, for window sizes without a spelled-out path:
    a tap at a time along the row, each clipped to the input."""
    h, w = plane.shape
    for ox in range(best.shape[0]):  # the window's first tap wins unless a later one is larger
        best[ox] = -np.inf
        where[ox] = max(y0, 0) * w + max(ox * sw - pw, 0)
    for iy in range(max(y0, 0), min(y0 + kh, h)):
        for j in range(kw):
            lo, hi = inside(best.shape[0], sw, j - pw, w)
            if sw == 2:  # a constant stride: interleaved loads instead of a gather
                _max_tap(plane, iy, lo, hi, 2, j - pw, w, best, where)
            else:
                _max_tap(plane, iy, lo, hi, sw, j - pw, w, best, where)


@njit(cache=True, nogil=True, inline="always")
def _max_window(plane, y0, x0, kh, kw):
    """The maximum of one window, clipped to the input, and its flat index (the first one wins)."""
    h, w = plane.shape
    ys, xs = max(y0, 0), max(x0, 0)
    best, where = plane[ys, xs], ys * w + xs
    for iy in range(ys, min(y0 + kh, h)):
        for ix in range(xs, min(x0 + kw, w)):
            if plane[iy, ix] > best:
                best, where = plane[iy, ix], iy * w + ix
    return best, where


@njit(cache=True, nogil=True, inline="always")
def _max_spelled(plane, y0, a, b, sw, x0, best, where, three):
    """Output columns a…b of a row of 3×3 windows (2×2 unless `three`, a constant once inlined) that all
    lie inside the input, top-left input pixel (y0, a·sw + x0): the taps spelled out in row-major order as
    compare-and-select pairs, so that the loop along the row vectorizes."""
    w = plane.shape[1]
    s0, s1 = plane[y0, a * sw + x0:], plane[y0 + 1, a * sw + x0:]
    s2 = plane[y0 + 2 if three else y0 + 1, a * sw + x0:]
    m, k = best[a:b], where[a:b]
    base = np.int32(y0 * w + a * sw + x0)
    w1, w2 = np.int32(w), np.int32(2 * w)
    for q in range(b - a):
        c = q * sw
        top, at = s0[c], np.int32(c)
        v = s0[c + 1]
        top, at = (v, np.int32(c + 1)) if v > top else (top, at)
        if three:
            v = s0[c + 2]
            top, at = (v, np.int32(c + 2)) if v > top else (top, at)
        v = s1[c]
        top, at = (v, w1 + np.int32(c)) if v > top else (top, at)
        v = s1[c + 1]
        top, at = (v, w1 + np.int32(c + 1)) if v > top else (top, at)
        if three:
            v = s1[c + 2]
            top, at = (v, w1 + np.int32(c + 2)) if v > top else (top, at)
            v = s2[c]
            top, at = (v, w2 + np.int32(c)) if v > top else (top, at)
            v = s2[c + 1]
            top, at = (v, w2 + np.int32(c + 1)) if v > top else (top, at)
            v = s2[c + 2]
            top, at = (v, w2 + np.int32(c + 2)) if v > top else (top, at)
        m[q] = top
        k[q] = base + at


@njit(cache=True, nogil=True, inline="always")
def _pool_plane(plane, kh, sh, sw, ph, pw, a, b, out, arg, three):
    """One plane of 3×3 (2×2 unless `three`) max pooling: rows whose windows lie inside the input run
    spelled out over their inner columns a…b, the rest window by window."""
    h = plane.shape[0]
    oh, ow = out.shape
    for oy in range(oh):
        y0 = oy * sh - ph
        best, where = out[oy], arg[oy]
        lo, hi = (a, b) if y0 >= 0 and y0 + kh <= h and a < b else (ow, ow)
        if lo < hi:
            _max_spelled(plane, y0, lo, hi, sw, -pw, best, where, three)
        for ox in range(min(lo, ow)):  # the border windows, one at a time
            best[ox], where[ox] = _max_window(plane, y0, ox * sw - pw, kh, kh)
        for ox in range(hi, ow):
            best[ox], where[ox] = _max_window(plane, y0, ox * sw - pw, kh, kh)


# One kernel per spelled-out window and stride, each compiled when a network first needs it: five in one
# kernel took 7 s to compile, every first run with a 3×3 or 2×2 max pooling paying for all of them. (These
# keep the argmax for training; inference takes maxpool_values below.)
@njit(cache=True, nogil=True)
def _planes_3x3_stride2(x, sh, ph, pw, a, b, y, arg):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _pool_plane(x[n, c], 3, sh, 2, ph, pw, a, b, y[n, c], arg[n, c], True)


@njit(cache=True, nogil=True)
def _planes_3x3_stride1(x, sh, ph, pw, a, b, y, arg):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _pool_plane(x[n, c], 3, sh, 1, ph, pw, a, b, y[n, c], arg[n, c], True)


@njit(cache=True, nogil=True)
def _planes_2x2_stride2(x, sh, ph, pw, a, b, y, arg):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _pool_plane(x[n, c], 2, sh, 2, ph, pw, a, b, y[n, c], arg[n, c], False)


@njit(cache=True, nogil=True)
def _rows(x, kh, kw, sh, sw, ph, pw, y, arg):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for oy in range(y.shape[2]):
                _max_row(x[n, c], oy * sh - ph, kh, kw, sw, pw, y[n, c, oy], arg[n, c, oy])


def maxpool_forward(x, kh, kw, sh, sw, ph, pw, y, arg):
    """y = max over each window (padding never wins); arg = flat index iy·W + ix of the first maximum
    in row-major order (PyTorch's tie rule: taps are visited row by row and only a larger value wins).
    3×3 windows of stride 1 or 2 and 2×2 of stride 2 take a spelled-out path with the stride a constant;
    other windows and strides go a tap at a time along each output row (a spelled-out kernel for the rarer
    strides, the stride known only at run time, ran 2–2.3× faster than that in training but took 1.2 s to
    compile each: entry 75). NaN never reaches here: the engine checks every tensor."""
    spelled = {(3, 2): _planes_3x3_stride2, (3, 1): _planes_3x3_stride1, (2, 2): _planes_2x2_stride2}
    kernel = spelled.get((kh, sw)) if kh == kw else None
    if kernel is None:
        _rows(x, kh, kw, sh, sw, ph, pw, y, arg)
        return
    w, ow = x.shape[3], y.shape[3]
    a = inside(ow, sw, -pw, w)[0]  # output columns whose window lies inside: a…b
    b = inside(ow, sw, kh - 1 - pw, w)[1]
    kernel(x, sh, ph, pw, a, b, y, arg)


@njit(cache=True, nogil=True, inline="always")
def _column_max(plane, y0, y1, pw, val):
    """val[pw + ix] = the max of plane[y0…y1−1, ix] for every column ix: three rows at a time (a short last
    group repeats its last row), each column's max kept in a register and stored once (updating val in
    place row by row compiled to masked stores, which are slow on AMD's cores)."""
    w = plane.shape[1]
    for g in range(y0, y1, 3):
        i1, i2 = min(g + 1, y1 - 1), min(g + 2, y1 - 1)
        if g == y0:
            for ix in range(w):
                val[pw + ix] = max(plane[g, ix], max(plane[i1, ix], plane[i2, ix]))
        else:
            for ix in range(w):
                val[pw + ix] = max(val[pw + ix], max(plane[g, ix], max(plane[i1, ix], plane[i2, ix])))


@njit(cache=True, nogil=True, inline="always")
def _row_max(val, kw, sw, out):
    """out[ox] = the max of val[ox·sw … ox·sw + kw − 1]: three taps at a time, as _column_max."""
    for g in range(0, kw, 3):
        j1, j2 = min(g + 1, kw - 1), min(g + 2, kw - 1)
        if g == 0:
            for ox in range(out.shape[0]):
                c = ox * sw
                out[ox] = max(val[c], max(val[c + j1], val[c + j2]))
        else:
            for ox in range(out.shape[0]):
                c = ox * sw
                out[ox] = max(out[ox], max(val[c + g], max(val[c + j1], val[c + j2])))


@njit(cache=True, nogil=True)
def maxpool_values(x, kh, kw, sh, sw, ph, pw, y):
    """maxpool_forward's y without the argmax, for inference: separable — for each output row the max over
    its window's rows column by column, then over each window's columns, from a row buffer whose margins
    are the padding (−inf). Any window size and stride (along the row a constant where it is 1 or 2).
    2–3× the argmax kernels' speed on ResNet's, GoogLeNet's and AlexNet's pooling (docs/performance.md)."""
    n_img, n_c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    val = np.empty(max((ow - 1) * sw + kw, pw + w), dtype=x.dtype)
    fill(val[:pw], -np.inf)
    fill(val[pw + w:], -np.inf)
    every = np.empty((ow - 1) * sw + 1 if sw > 2 else 0, dtype=x.dtype)
    for n in range(n_img):
        for c in range(n_c):
            plane = x[n, c]
            for oy in range(oh):
                y0 = oy * sh - ph
                _column_max(plane, max(y0, 0), min(y0 + kh, h), pw, val)
                out = y[n, c, oy]
                if sw == 2:
                    _row_max(val, kw, 2, out)
                else:  # larger strides: every window at stride 1, then every sw-th (not a third copy to compile)
                    _row_max(val, kw, 1, out if sw == 1 else every)
                    if sw > 2:
                        for ox in range(ow):
                            out[ox] = every[ox * sw]


@njit(cache=True, nogil=True)
def maxpool_backward(dy, arg, dx):
    """dx[n, c, arg] += dy: each output's gradient goes to the input that won its window."""
    n_img, n_c, oh, ow = dy.shape
    for n in range(n_img):
        for c in range(n_c):
            plane, g, where = dx[n, c].reshape(-1), dy[n, c].reshape(-1), arg[n, c].reshape(-1)
            for q in range(oh * ow):  # the flat index, no division by W
                plane[where[q]] += g[q]


@njit(cache=True, nogil=True)
def _divisor(o, s, p, k, size):
    start = o * s - p
    end = min(start + k, size + p)
    return end - start, max(start, 0), min(end, size)


@njit(cache=True, nogil=True)
def avgpool_forward(x, kh, kw, sh, sw, ph, pw, y):
    n_img, n_c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for n in range(n_img):
        for c in range(n_c):
            plane = x[n, c]
            for oy in range(oh):
                dh, ys, ye = _divisor(oy, sh, ph, kh, h)
                for ox in range(ow):
                    dw, xs, xe = _divisor(ox, sw, pw, kw, w)
                    acc = plane.dtype.type(0)
                    for iy in range(ys, ye):
                        for ix in range(xs, xe):
                            acc += plane[iy, ix]
                    y[n, c, oy, ox] = acc / (dh * dw)


@njit(cache=True, nogil=True)
def avgpool_backward(dy, kh, kw, sh, sw, ph, pw, dx):
    n_img, n_c, h, w = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    for n in range(n_img):
        for c in range(n_c):
            plane = dx[n, c]
            for oy in range(oh):
                dh, ys, ye = _divisor(oy, sh, ph, kh, h)
                for ox in range(ow):
                    dw, xs, xe = _divisor(ox, sw, pw, kw, w)
                    g = dy[n, c, oy, ox] / (dh * dw)
                    for iy in range(ys, ye):
                        for ix in range(xs, xe):
                            plane[iy, ix] += g


@njit(cache=True, nogil=True)
def gap_forward(x, y):
    """x (N, C, P) → y (N, C): the mean over P = H·W."""
    n_img, n_c, p = x.shape
    for n in range(n_img):
        for c in range(n_c):
            acc = 0.0
            for k in range(p):
                acc += x[n, c, k]
            y[n, c] = acc / p


@njit(cache=True, nogil=True)
def gap_backward(dy, dx):
    n_img, n_c, p = dx.shape
    for n in range(n_img):
        for c in range(n_c):
            g = dy[n, c] / p
            for k in range(p):
                dx[n, c, k] = g


@njit(cache=True, nogil=True)
def gmp_forward(x, y, arg):
    """x (N, C, P) → y (N, C): the max over P = H·W, and its first index (as PyTorch picks on ties)."""
    n_img, n_c, p = x.shape
    for n in range(n_img):
        for c in range(n_c):
            best, at = x[n, c, 0], 0
            for k in range(1, p):
                if x[n, c, k] > best or (x[n, c, k] != x[n, c, k] and best == best):  # NaN wins, as in torch
                    best, at = x[n, c, k], k
            y[n, c] = best
            arg[n, c] = at


@njit(cache=True, nogil=True)
def gmp_backward(dy, arg, dx):
    """The gradient goes to each channel's maximum; dx (N, C, P) zero elsewhere."""
    n_img, n_c, p = dx.shape
    for n in range(n_img):
        for c in range(n_c):
            for k in range(p):
                dx[n, c, k] = 0
            dx[n, c, arg[n, c]] = dy[n, c]


@njit(cache=True, nogil=True)
def avg2x2_forward(x, y):
    """2×2 windows (LeNet's): the four taps spelled out, so the loop along an output row vectorizes (4–7×
    the general loop). · ¼ is exactly / 4."""
    n_img, n_c, oh, ow = y.shape
    quarter = x.dtype.type(0.25)
    for n in range(n_img):
        for c in range(n_c):
            for oy in range(oh):
                r0, r1, out = x[n, c, 2 * oy], x[n, c, 2 * oy + 1], y[n, c, oy]
                for ox in range(ow):
                    out[ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * quarter


@njit(cache=True, nogil=True)
def avg2x2_backward(dy, dx):
    """The adjoint of avg2x2_forward; writes all of dx (zero in a leftover last row or column)."""
    n_img, n_c, oh, ow = dy.shape
    h = dx.shape[2]
    quarter = dy.dtype.type(0.25)
    for n in range(n_img):
        for c in range(n_c):
            for oy in range(oh):
                g, r0, r1 = dy[n, c, oy], dx[n, c, 2 * oy], dx[n, c, 2 * oy + 1]
                for ox in range(ow):
                    v = g[ox] * quarter
                    r0[2 * ox] = v
                    r0[2 * ox + 1] = v
                    r1[2 * ox] = v
                    r1[2 * ox + 1] = v
                for k in range(2 * ow, r0.shape[0]):  # plain loops: fill() inlined thrice compiled 0.05-0.1 s slower
                    r0[k] = 0
                    r1[k] = 0
            for iy in range(2 * oh, h):
                dx[n, c, iy] = 0


@njit(cache=True, nogil=True)
def avgpool_tiled_forward(x, kh, kw, y):
    """Non-overlapping windows inside the input (stride = kernel, no padding): row by row, no divisor
    bookkeeping (2×2 windows: avg2x2_forward, chosen by the caller so that only one is compiled)."""
    n_img, n_c, oh, ow = y.shape
    size = x.dtype.type(kh * kw)
    for n in range(n_img):
        for c in range(n_c):
            for oy in range(oh):
                out = y[n, c, oy]
                fill(out, 0)
                for i in range(kh):
                    src = x[n, c, oy * kh + i]
                    for j in range(kw):
                        for ox in range(ow):
                            out[ox] += src[ox * kw + j]
                for ox in range(ow):
                    out[ox] /= size


@njit(cache=True, nogil=True)
def avgpool_tiled_backward(dy, kh, kw, dx):
    """The adjoint of avgpool_tiled_forward; writes all of dx (zero under no window)."""
    n_img, n_c, oh, ow = dy.shape
    size = dy.dtype.type(kh * kw)
    for n in range(n_img):
        for c in range(n_c):
            plane = dx[n, c]
            for oy in range(oh):
                g = dy[n, c, oy]
                for i in range(kh):
                    dst = plane[oy * kh + i]
                    for j in range(kw):
                        for ox in range(ow):
                            dst[ox * kw + j] = g[ox] / size
                    fill(dst[ow * kw:], 0)
            plane[oh * kh:] = 0
