"""Convolution as im2col + one large GEMM (BLAS), and col2im for the input gradient.

    x (N, C, H, W), w (F, C/g, kh, kw) → y (N, F, oh, ow)
    cols[(c, i, j), (n, oy, ox)] = x[n, c, oy·sh − ph + i·dh, ox·sw − pw + j·dw]   (0 outside)
    y_g = w_g.reshape(F/g, K) @ cols_g          K = (C/g)·kh·kw,  one GEMM per group and tile
    dW_g = Σ_tiles dy_g @ cols_gᵀ,   dcols_g = w_gᵀ @ dy_g  → col2im → dx

The batch is split over the cores (kernels/parallel.py); each core walks its images in tiles (several
small images, or bands of output rows of a large one) so that the column buffer stays within WORKSPACE.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from . import flat, taps, winograd
from . import choice
from .workspace import FLAT_WORKSPACE, WORKSPACE
from .parallel import WORKERS, add_product_t, over_batch, run_batched, sum_parts
from .rows import copy, fill, inside


@njit(cache=True, nogil=True)
def im2col(x, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, cols):
    """x (N, C, H, W), channels c0…c1, output rows oy0…oy1 → cols ((c1−c0)·kh·kw, N·(oy1−oy0)·ow).
    Each output row is a zero margin, a copy (contiguous at stride 1) and a zero margin."""
    if sw > 1 and kw > 1:
        _im2col_strided(x, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow)
        return
    n_img, _, h, w = x.shape
    p = (oy1 - oy0) * ow
    zero = x.dtype.type(0)
    for c in range(c0, c1):
        for i in range(kh):
            for j in range(kw):
                row = cols[((c - c0) * kh + i) * kw + j]
                off = j * dw - pw
                lo, hi = inside(ow, sw, off, w)
                for n in range(n_img):
                    for oy in range(oy0, oy1):
                        iy = oy * sh - ph + i * dh
                        base = n * p + (oy - oy0) * ow
                        if iy < 0 or iy >= h:
                            fill(row[base:base + ow], zero)
                            continue
                        src = x[n, c, iy]
                        fill(row[base:base + lo], zero)
                        if sw == 1:
                            copy(row[base + lo:base + hi], src[lo + off:hi + off])
                        else:
                            for ox in range(lo, hi):
                                row[base + ox] = src[ox * sw + off]
                        fill(row[base + hi:base + ow], zero)


@njit(cache=True, nogil=True)
def col2im(cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, dx):
    """The adjoint of im2col: dx[n, c, iy, ix] += cols[(c, i, j), (n, oy, ox)]."""
    if sw > 1 and kw > 1:
        _col2im_strided(dx, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow)
        return
    n_img, _, h, w = dx.shape
    p = (oy1 - oy0) * ow
    for c in range(c0, c1):
        for i in range(kh):
            for j in range(kw):
                row = cols[((c - c0) * kh + i) * kw + j]
                off = j * dw - pw
                lo, hi = inside(ow, sw, off, w)
                for n in range(n_img):
                    for oy in range(oy0, oy1):
                        iy = oy * sh - ph + i * dh
                        if iy < 0 or iy >= h:
                            continue
                        dst = dx[n, c, iy]
                        base = n * p + (oy - oy0) * ow
                        if sw == 1:
                            d = dst[lo + off:hi + off]
                            s = row[base + lo:base + hi]
                            for k in range(hi - lo):
                                d[k] += s[k]
                        else:
                            for ox in range(lo, hi):
                                dst[ox * sw + off] += row[base + ox]


@njit(cache=True, nogil=True, inline="always")
def _strided_columns(image, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, adjoint):
    """im2col (or, with adjoint, col2im into image) at a column stride sw > 1 and a kernel wider than 1.
    Each input row is split into its sw phases (phase a holds columns a, a + sw, a + 2·sw …), so that
    every tap's copy — or, for the adjoint, its add — is contiguous again. Inlined into its two callers,
    where `adjoint` is a constant and its branches fold away (as a run-time flag they cost 30 %)."""
    n_img, _, h, w = image.shape
    p = (oy1 - oy0) * ow
    phases = np.zeros((sw, (w + sw - 1) // sw), dtype=image.dtype)
    for c in range(c0, c1):
        for i in range(kh):
            for n in range(n_img):
                for oy in range(oy0, oy1):
                    iy = oy * sh - ph + i * dh
                    base = n * p + (oy - oy0) * ow
                    row_in = 0 <= iy < h
                    if not row_in and adjoint:
                        continue
                    if row_in:
                        src = image[n, c, iy]
                        for a in range(sw):
                            if adjoint:
                                phases[a] = 0
                                continue
                            dst = phases[a]
                            for k in range((w - a + sw - 1) // sw):
                                dst[k] = src[k * sw + a]
                    for j in range(kw):
                        row = cols[((c - c0) * kh + i) * kw + j]
                        if not row_in:
                            fill(row[base:base + ow], 0)
                            continue
                        off = j * dw - pw
                        lo, hi = inside(ow, sw, off, w)
                        shift, q = off % sw, off // sw  # column ox·sw + off = (ox + q)·sw + shift
                        if adjoint:
                            d = phases[shift, lo + q:hi + q]
                            s = row[base + lo:base + hi]
                            for k in range(hi - lo):
                                d[k] += s[k]
                        else:
                            fill(row[base:base + lo], 0)
                            copy(row[base + lo:base + hi], phases[shift, lo + q:hi + q])
                            fill(row[base + hi:base + ow], 0)
                    if adjoint:
                        dst = image[n, c, iy]
                        for a in range(sw):
                            src = phases[a]
                            for k in range((w - a + sw - 1) // sw):
                                dst[k * sw + a] += src[k]


@njit(cache=True, nogil=True)
def _im2col_strided(x, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow):
    _strided_columns(x, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, False)


@njit(cache=True, nogil=True)
def _col2im_strided(dx, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow):
    _strided_columns(dx, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, True)


@njit(cache=True, nogil=True)
def scatter_output(out, f0, bias, k0, y):
    """out (F_g, N·q) → y[n, f0 + f, k0 : k0 + q] (+ bias[f0 + f]); y (N, F, P). An empty bias means none."""
    n_img = y.shape[0]
    q = out.shape[1] // n_img
    has_bias = bias.shape[0] > 0
    for f in range(out.shape[0]):
        b = bias[f0 + f] if has_bias else y.dtype.type(0)
        for n in range(n_img):
            src = out[f, n * q:(n + 1) * q]
            dst = y[n, f0 + f]
            for k in range(q):
                dst[k0 + k] = src[k] + b


@njit(cache=True, nogil=True)
def gather_grad(dy, f0, f1, k0, dyt):
    """dy (N, F, P), filters f0…f1, positions k0 … k0 + q → dyt (f1−f0, N·q): the GEMM layout."""
    n_img = dy.shape[0]
    q = dyt.shape[1] // n_img
    for f in range(f0, f1):
        for n in range(n_img):
            src = dy[n, f]
            dst = dyt[f - f0, n * q:(n + 1) * q]
            for k in range(q):
                dst[k] = src[k0 + k]


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
    return sum(over_batch(part, len(dy), dy.size)).astype(dy.dtype)


# A chunk of the batch is worth its own thread unless its GEMMs get very narrow. Once 1,024 (ResNet-18's
# 7×7 layers lost with chunks); since the in-place outputs and faster im2col, its 7×7 and stride-2 layers
# gain 15–75 % with them (docs/performance.md).
MIN_COLUMNS_PER_CHUNK = 64
# The column buffer of one tile, in elements (8 MB of float32): it stays in cache, and memory stays
# close to the activations' (a whole batch's columns are C·kh·kw/C times the input).


def tiles(n_img: int, oh: int, ow: int, k: int) -> list[tuple[int, int, int, int]]:
    """Work units (n0, n1, oy0, oy1) of an oh × ow grid of cells (output positions, or Winograd's 2×2
    tiles) that need k floats of workspace each, within WORKSPACE: several whole images when they are
    small, bands of rows of one image when it is large."""
    budget = max(WORKSPACE // k, ow)
    if oh * ow <= budget:
        per = max(1, budget // (oh * ow))
        return [(a, min(a + per, n_img), 0, oh) for a in range(0, n_img, per)]
    bands = -(-oh // max(1, budget // ow))
    rows = -(-oh // bands)  # bands of equal height: a thin last band makes narrow, slow GEMMs
    return [(a, a + 1, r, min(r + rows, oh)) for a in range(n_img) for r in range(0, oh, rows)]


def _images_or_bands(work: Callable, n: int, rows: int, worth_it: bool) -> list:
    """work(a, e, r0, r1) — images a…e, rows r0…r1 of cells — over the cores: by chunks of the batch, or,
    with fewer images than threads, by bands of rows of every image (so that a batch of one still uses
    every core). → the chunks' results."""
    if n >= WORKERS or rows < 2:
        return run_batched(lambda a, e: work(a, e, 0, rows), n, worth_it)
    return run_batched(lambda r0, r1: work(0, n, r0, r1), rows, worth_it)


def _winograd_forward(x, w, b, pad, groups, out_hw):
    n, f = x.shape[0], w.shape[0]
    cg, fg = w.shape[1], f // groups
    oh, ow = out_hw
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    u = [winograd.filter_transform(w[g * fg:(g + 1) * fg]) for g in range(groups)]

    def work(a: int, e: int, r0: int, r1: int) -> None:
        xs, ys = x[a:e], y[a:e]
        for n0, n1, ty0, ty1 in tiles(e - a, r1 - r0, tw, 16 * (cg + fg)):
            ty0, ty1 = ty0 + r0, ty1 + r0
            t = (n1 - n0) * (ty1 - ty0) * tw
            v = np.empty((16, cg, t), dtype=x.dtype)
            m = np.empty((16, fg, t), dtype=x.dtype)
            for g in range(groups):
                winograd.input_transform(xs, g * cg, (g + 1) * cg, n0, n1, ty0, ty1, tw, *pad, v)
                np.matmul(u[g], v, out=m)
                winograd.output_transform(m, g * fg, bias, n0, n1, ty0, ty1, tw, ys)

    _images_or_bands(work, n, th, worth_it=n * th * tw >= MIN_COLUMNS_PER_CHUNK // 2)
    return y


def _winograd_backward(dy, x, w, pad, groups, need_dx, need_dw):
    n, f = x.shape[0], w.shape[0]
    cg, fg = w.shape[1], f // groups
    oh, ow = dy.shape[2:]
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    dx = np.zeros_like(x) if need_dx else None
    u = [winograd.filter_transform(w[g * fg:(g + 1) * fg]) for g in range(groups)] if need_dx else None

    def work(a: int, e: int, r0: int, r1: int):
        du = np.zeros((groups, 16, fg, cg), dtype=x.dtype) if need_dw else None
        # the input rows of neighbouring bands overlap: a band after the first adds into its own dx
        dxs = (dx[a:e] if r0 == 0 else np.zeros_like(x[a:e])) if need_dx else None
        xs, ds = x[a:e], dy[a:e]
        for n0, n1, ty0, ty1 in tiles(e - a, r1 - r0, tw, 16 * (2 * cg + fg)):
            ty0, ty1 = ty0 + r0, ty1 + r0
            t = (n1 - n0) * (ty1 - ty0) * tw
            dm = np.empty((16, fg, t), dtype=x.dtype)
            v = np.empty((16, cg, t), dtype=x.dtype)  # the input's transform, or its gradient
            for g in range(groups):
                winograd.output_transform_adjoint(ds, g * fg, (g + 1) * fg, n0, n1, ty0, ty1, tw, dm)
                if need_dw:
                    winograd.input_transform(xs, g * cg, (g + 1) * cg, n0, n1, ty0, ty1, tw, *pad, v)
                    for xi in range(16):
                        add_product_t(dm[xi], v[xi], du[g, xi])
                if need_dx:
                    np.matmul(u[g].transpose(0, 2, 1), dm, out=v)
                    winograd.input_transform_adjoint(v, g * cg, (g + 1) * cg, n0, n1, ty0, ty1, tw, *pad, dxs)
        return du, (dxs if need_dx and r0 > 0 else None)

    parts = _images_or_bands(work, n, th, worth_it=n * th * tw >= MIN_COLUMNS_PER_CHUNK // 2)
    for _, extra in parts:
        if extra is not None:
            dx += extra
    dw = None
    if need_dw:
        du = sum_parts([p for p, _ in parts])
        dw = np.concatenate([winograd.filter_transform_adjoint(du[g]) for g in range(groups)])
    return dx, dw


def _images_per_buffer(n: int, c: int, s: int, pad) -> int:
    """Images of padded planes (C·S floats each) per _plane_buffer: as many as fit FLAT_WORKSPACE, or the
    whole batch when there is no padding (the buffer is x itself)."""
    return max(1, FLAT_WORKSPACE // (c * s)) if tuple(pad) != (0, 0) else n


def _plane_buffer(x: np.ndarray, a: int, e: int, pad, hp: int, wp: int) -> tuple[np.ndarray, int]:
    """Images a…e of x as zero-padded planes in one flat buffer, and the index of image a in it: all of x
    itself when there is no padding, else a copy with a margin for the direct kernels' whole vectors."""
    if tuple(pad) == (0, 0):
        return np.ascontiguousarray(x).reshape(-1), a
    c, s = x.shape[1], hp * wp
    buf = np.empty((e - a) * c * s + taps.VECTOR, dtype=x.dtype)
    buf[-taps.VECTOR:] = 0
    flat.pad_planes(x[a:e], *pad, wp, buf[:(e - a) * c * s].reshape(e - a, c, s))
    return buf, 0


def _flat_forward(x, w, b, pad, dilation, groups, out_hw):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    hp, wp = h + 2 * pad[0], wd + 2 * pad[1]
    s = hp * wp
    y = np.empty((n, f) + tuple(out_hw), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    offs = taps.tap_offsets(cg, kh, kw, s, wp, *dilation)
    blocks = [taps.weight_blocks(w[g * fg:(g + 1) * fg], len(offs), 8) for g in range(groups)]
    per = _images_per_buffer(n, c, s, pad)

    def chunk(lo: int, hi: int) -> None:
        for a in range(lo, hi, per):
            e = min(a + per, hi)
            buf, n0 = _plane_buffer(x, a, e, pad, hp, wp)
            for g in range(groups):
                for k, wt in enumerate(blocks[g]):
                    f0 = g * fg + 8 * k
                    taps.forward_block(buf[g * cg * s:], c * s, n0, offs, wt, f0, min(8, (g + 1) * fg - f0), bias,
                                       wp, y[a:e])

    run_batched(chunk, n, worth_it=n * out_hw[0] * out_hw[1] >= 2 * MIN_COLUMNS_PER_CHUNK)
    return y


def _flat_backward(dy, x, w, pad, dilation, groups, need_dx, need_dw):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    fg, k = f // groups, cg * kh * kw
    oh, ow = dy.shape[2:]
    hp, wp = h + 2 * pad[0], wd + 2 * pad[1]
    s, length = hp * wp, oh * wp
    padded = tuple(pad) != (0, 0)
    dx = (np.empty_like(x) if padded else np.zeros_like(x)) if need_dx else None
    offs = taps.tap_offsets(cg, kh, kw, s, wp, *dilation)
    per_w = _images_per_buffer(n, c, s, pad)
    per_x = max(1, FLAT_WORKSPACE // ((k + fg) * length))  # images of columns per GEMM

    def chunk(lo: int, hi: int):
        dwt = np.zeros((groups, -(-fg // 4), len(offs), 4, taps.GROUP), dtype=x.dtype) if need_dw else None
        for a in range(lo, hi if need_dw else lo, per_w):
            e = min(a + per_w, hi)
            buf, n0 = _plane_buffer(x, a, e, pad, hp, wp)
            for g in range(groups):
                for q in range(dwt.shape[1]):
                    f0 = g * fg + 4 * q
                    taps.weight_grad_block(buf[g * cg * s:], c * s, n0, offs, dy[a:e], f0, min(4, (g + 1) * fg - f0),
                                           wp, dwt[g, q])
        for a in range(lo, hi if need_dx else lo, per_x):
            e = min(a + per_x, hi)
            grid = np.empty((fg, (e - a) * length), dtype=x.dtype)
            cols = np.empty((k, (e - a) * length), dtype=x.dtype)
            dplanes = (np.zeros((e - a, c, hp * wp), dtype=x.dtype) if padded
                       else dx[a:e].reshape(e - a, c, h * wd))
            for g in range(groups):
                flat.gather_flat(dy[a:e], g * fg, (g + 1) * fg, wp, grid)
                np.matmul(w[g * fg:(g + 1) * fg].reshape(fg, k).T, grid, out=cols)
                flat.col2im_flat(cols, g * cg, (g + 1) * cg, kh, kw, *dilation, wp, oh, dplanes)
            if padded:
                flat.unpad_planes(dplanes, *pad, wp, dx[a:e])
        return dwt

    parts = run_batched(chunk, n, worth_it=n * oh * ow >= 2 * MIN_COLUMNS_PER_CHUNK)
    dw = None
    if need_dw:
        dwt = sum_parts(parts)
        dw = np.concatenate([taps.unblock(dwt[g], (fg, cg, kh, kw)) for g in range(groups)])
    return dx, dw


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, pad, dilation, groups: int,
                 out_hw) -> np.ndarray:
    if choice.use_winograd(w.shape, stride, dilation, groups, x.shape[0], out_hw):
        return _winograd_forward(x, w, b, pad, groups, out_hw)
    pointwise = choice.pointwise(w.shape, stride, pad, dilation, groups)
    if not pointwise and choice.use_flat(w.shape, stride, groups):
        return _flat_forward(x, w, b, pad, dilation, groups, out_hw)
    n = x.shape[0]
    f, cg, kh, kw = w.shape
    oh, ow = out_hw
    fg = f // groups
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)

    def chunk(lo: int, hi: int) -> None:
        if pointwise:
            np.matmul(w.reshape(f, -1), x[lo:hi].reshape(hi - lo, cg, -1), out=y[lo:hi])
            if b is not None:
                y[lo:hi] += b[:, None]
            return
        for n0, n1, oy0, oy1 in tiles(hi - lo, oh, ow, cg * kh * kw):
            xs, ys = x[lo + n0:lo + n1], y[lo + n0:lo + n1]
            cols = np.empty((cg * kh * kw, (n1 - n0) * (oy1 - oy0) * ow), dtype=x.dtype)
            whole = n1 - n0 == 1 and oy1 - oy0 == oh  # one whole image: the GEMM writes y directly
            for g in range(groups):
                im2col(xs, g * cg, (g + 1) * cg, kh, kw, *stride, *pad, *dilation, oy0, oy1, ow, cols)
                if whole:
                    out = ys[0, g * fg:(g + 1) * fg]
                    np.matmul(w[g * fg:(g + 1) * fg].reshape(fg, -1), cols, out=out)
                    if b is not None:
                        out += b[g * fg:(g + 1) * fg, None]
                    continue
                out = w[g * fg:(g + 1) * fg].reshape(fg, -1) @ cols
                scatter_output(out, g * fg, bias, oy0 * ow, ys)

    run_batched(chunk, n, worth_it=n * oh * ow >= 2 * MIN_COLUMNS_PER_CHUNK)
    return y.reshape(n, f, oh, ow)


def conv_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, has_bias: bool, stride, pad, dilation,
                  groups: int, need_dx: bool = True, need_dw: bool = True):
    """→ dx, dw, db (dx None unless need_dx, dw unless need_dw, db None without bias). The columns are recomputed tile by
    tile rather than kept from forward, which would cost kh·kw times the input's memory per layer."""
    n = x.shape[0]
    f, cg, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    fg = f // groups
    dy3 = dy.reshape(n, f, oh * ow)
    db = None
    if has_bias:
        db = bias_grad(dy3)
    if choice.use_winograd(w.shape, stride, dilation, groups, n, (oh, ow)):
        return (*_winograd_backward(dy, x, w, pad, groups, need_dx, need_dw), db)
    pointwise = choice.pointwise(w.shape, stride, pad, dilation, groups)
    if not pointwise and choice.use_flat(w.shape, stride, groups):
        return (*_flat_backward(dy, x, w, pad, dilation, groups, need_dx, need_dw), db)
    dx = np.zeros_like(x) if need_dx else None

    def chunk(lo: int, hi: int) -> np.ndarray:
        dw = np.zeros_like(w)
        if pointwise:
            w2, x3, d3 = w.reshape(f, cg), x[lo:hi].reshape(hi - lo, cg, -1), dy3[lo:hi]
            if need_dx:
                np.matmul(w2.T, d3, out=dx[lo:hi].reshape(hi - lo, cg, -1))
            dw2 = dw.reshape(f, cg)
            for i in range(hi - lo if need_dw else 0):
                add_product_t(d3[i], x3[i], dw2)
            return dw
        for n0, n1, oy0, oy1 in tiles(hi - lo, oh, ow, cg * kh * kw):
            xs, ds = x[lo + n0:lo + n1], dy3[lo + n0:lo + n1]
            width = (n1 - n0) * (oy1 - oy0) * ow
            cols = np.empty((cg * kh * kw, width), dtype=x.dtype)  # the columns, then their gradient
            whole = n1 - n0 == 1 and oy1 - oy0 == oh  # one whole image: dy is already in GEMM layout
            dyt = None if whole else np.empty((fg, width), dtype=x.dtype)
            for g in range(groups):
                if whole:
                    dyt = ds[0, g * fg:(g + 1) * fg]
                else:
                    gather_grad(ds, g * fg, (g + 1) * fg, oy0 * ow, dyt)
                if need_dw:
                    im2col(xs, g * cg, (g + 1) * cg, kh, kw, *stride, *pad, *dilation, oy0, oy1, ow, cols)
                    add_product_t(np.ascontiguousarray(dyt), cols, dw[g * fg:(g + 1) * fg].reshape(fg, -1))
                if need_dx:
                    np.matmul(w[g * fg:(g + 1) * fg].reshape(fg, -1).T, dyt, out=cols)
                    col2im(cols, g * cg, (g + 1) * cg, kh, kw, *stride, *pad, *dilation, oy0, oy1, ow,
                           dx[lo + n0:lo + n1])
        return dw

    parts = run_batched(chunk, n, worth_it=n * oh * ow >= 2 * MIN_COLUMNS_PER_CHUNK)
    dw = sum_parts(parts) if need_dw else None
    return dx, dw, db
