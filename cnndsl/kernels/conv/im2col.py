"""Convolution as im2col + one large GEMM (BLAS), and col2im for the input gradient.

    x (N, C, H, W), w (F, C/g, kh, kw) → y (N, F, oh, ow)
    cols[(c, i, j), (n, oy, ox)] = x[n, c, oy·sh − ph + i·dh, ox·sw − pw + j·dw]   (0 outside)
    y_g = w_g.reshape(F/g, K) @ cols_g          K = (C/g)·kh·kw,  one GEMM per group and tile
    dW_g = Σ_tiles dy_g @ cols_gᵀ,   dcols_g = w_gᵀ @ dy_g  → col2im → dx

The batch is split over the cores (kernels/schedule.py); each core walks its images in tiles (several
small images, or bands of output rows of a large one) so that the column buffer stays within the
schedule's WORKSPACE. The columns are recomputed tile by tile in backward rather than kept from forward,
which would cost kh·kw times the input's memory per layer.
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from ..blas import add_product_t
from ..jit import njit
from ..rows import copy, deinterleave, fill, inside
from .epilogue import Epilogue, apply, channel, finish


def im2col(x, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, cols):
    """x (N, C, H, W), channels c0…c1, output rows oy0…oy1 → cols ((c1−c0)·kh·kw, N·(oy1−oy0)·ow)."""
    _columns(x, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, False)


def col2im(cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, dx):
    """The adjoint of im2col: dx[n, c, iy, ix] += cols[(c, i, j), (n, oy, ox)]. cols is scratch: the
    shifted and phased paths zero its entries that fall outside the input, then add."""
    _columns(dx, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, True)


def _columns(image, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, adjoint: bool) -> None:
    """im2col, or col2im into image, by the fastest path for the layer. "Same" padding — the output as
    wide as the input at stride 1, or as each phase of it at a larger stride — makes each image's run of
    a row of cols one shifted run of the plane, or of one phase of it (_shifted_columns, _phased_columns;
    entry 69). Otherwise, at a column stride with a kernel wider than 1, one copy per tap and row from
    the row's phases; else a plain loop per output row (entry 52). The choice is made here, in Python:
    one kernel each compiles faster than one that calls them all."""
    w = image.shape[3]
    if sh == sw == 1 and ow == w and image.flags.c_contiguous:
        _shifted_columns(image, cols, c0, c1, kh, kw, ph, pw, dh, dw, oy0, oy1, adjoint)
    elif (sh > 1 or sw > 1) and -(-w // sw) <= ow:
        _phased_columns(image, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, adjoint)
    elif sw > 1 and kw > 1:
        (_col2im_strided if adjoint else _im2col_strided)(image, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw,
                                                          oy0, oy1, ow)
    elif adjoint:
        _col2im_rows(cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, image)
    else:
        _im2col_rows(image, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, cols)


@njit(cache=True, nogil=True)
def _im2col_rows(x, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, cols):
    """im2col by a plain loop per output row, the bounds tested per element."""
    n_img, _, h, w = x.shape
    p = (oy1 - oy0) * ow
    zero = x.dtype.type(0)
    for c in range(c0, c1):
        for i in range(kh):
            for j in range(kw):
                r = ((c - c0) * kh + i) * kw + j
                off = j * dw - pw
                for n in range(n_img):
                    for oy in range(oy0, oy1):
                        iy = oy * sh - ph + i * dh
                        base = n * p + (oy - oy0) * ow
                        if iy < 0 or iy >= h:
                            for ox in range(ow):
                                cols[r, base + ox] = zero
                            continue
                        for ox in range(ow):
                            ix = ox * sw + off
                            cols[r, base + ox] = x[n, c, iy, ix] if 0 <= ix < w else zero


@njit(cache=True, nogil=True)
def _col2im_rows(cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, dx):
    """col2im row by row: each tap's run inside the input added where it came from."""
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


@njit(cache=True, nogil=True)
def _shifted_columns(image, cols, c0, c1, kh, kw, ph, pw, dh, dw, oy0, oy1, adjoint):
    """im2col (or, with adjoint, col2im into image) at stride 1 with the output as wide as the input.
    Then column (oy, ox) of tap (i, j) reads the plane's element (oy − ph + i·dh)·w + ox − pw + j·dw: one
    image's run of a row of cols is a contiguous run of the flattened plane, shifted — one copy (or add)
    at memory speed instead of a loop per output row, then zeros where the window hangs over the top,
    the bottom or the sides (whose flat index wraps into the neighbouring row). 3.5–6.7× faster than the
    per-row loop on ResNet's, VGG's and AlexNet's maps (entry 69)."""
    n_img, n_c, h, w = image.shape
    p, hw = (oy1 - oy0) * w, h * w
    flat = image.reshape(-1)
    for c in range(c0, c1):
        for i in range(kh):
            di = i * dh - ph
            ya = min(max(oy0, -di), oy1)  # the output rows oy0 ≤ oy < oy1 whose input row oy + di is inside
            yb = max(min(oy1, h - di), ya)
            qa, qb = (ya - oy0) * w, (yb - oy0) * w
            for j in range(kw):
                row = cols[((c - c0) * kh + i) * kw + j]
                off = j * dw - pw
                lo, hi = inside(w, 1, off, w)
                shift = (oy0 + di) * w + off  # cols position q of an image reads its plane at q + shift
                a = min(max(qa, -shift), qb)  # qa ≤ a ≤ q < b ≤ qb: inside the plane (the rest is margin)
                b = max(min(qb, hw - shift), a)
                for n in range(n_img):
                    o = (n * n_c + c) * hw + shift  # ≥ 0 from a on
                    _tap_run(row[n * p:(n + 1) * p], flat, o, a, b, ya - oy0, yb - oy0, w, lo, hi, adjoint)


@njit(cache=True, nogil=True)
def _phased_columns(image, cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oy0, oy1, ow, adjoint):
    """im2col (or, with adjoint, col2im into image) at a stride above 1 where the output is at least as
    wide as each phase of the input (ResNet's stride-2 layers and stems: "same" padding). A channel's
    plane is split into its sh·sw phases — phase (ri, rj) holds rows ri, ri + sh, … and columns rj,
    rj + sw, … — each stored ow wide and ⌈h/sh⌉ high, zero past the input. Tap (i, j) then reads one
    phase at stride 1, shifted by (⌊(i·dh − ph)/sh⌋, ⌊(j·dw − pw)/sw⌋): one contiguous copy per image and
    tap as in _shifted_columns. The adjoint adds into the phases and adds them back into the plane."""
    n_img, n_c, h, w = image.shape
    hp = -(-h // sh)
    p, size = (oy1 - oy0) * ow, hp * ow
    phases = np.empty((n_img, sh * sw, size), dtype=image.dtype)
    for c in range(c0, c1):
        if adjoint:  # added into, then added back into the planes
            phases[:] = 0
        else:
            for n in range(n_img):
                _phases(image[n, c], phases[n], sh, sw, ow)
        for i in range(kh):
            qi, ri = divmod(i * dh - ph, sh)  # floor division: input row (oy + qi)·sh + ri
            ya = min(max(oy0, -qi), oy1)  # the output rows whose phase row oy + qi is inside
            yb = max(min(oy1, hp - qi), ya)
            qa, qb = (ya - oy0) * ow, (yb - oy0) * ow
            for j in range(kw):
                qj, rj = divmod(j * dw - pw, sw)
                row = cols[((c - c0) * kh + i) * kw + j]
                lo, hi = inside(ow, 1, qj, ow)
                shift = (oy0 + qi) * ow + qj
                a = min(max(qa, -shift), qb)
                b = max(min(qb, size - shift), a)
                for n in range(n_img):
                    _tap_run(row[n * p:(n + 1) * p], phases[n, ri * sw + rj], shift, a, b, ya - oy0, yb - oy0, ow,
                             lo, hi, adjoint)
        if adjoint:
            for n in range(n_img):
                _unphase(phases[n], image[n, c], sh, sw, ow)


@njit(cache=True, nogil=True)
def _phases(plane, phases, sh, sw, ow):
    """phases[ri·sw + rj, r·ow + k] = plane[r·sh + ri, k·sw + rj], zero past the plane."""
    h, w = plane.shape
    zero = plane.dtype.type(0)
    hp = phases.shape[1] // ow
    if sw == 2:  # both phases of a row in one pass, at a stride the compiler knows: a loop nest of its own
        for ri in range(sh):  # (inside the general one, the run-time test kept it from vectorizing; entry 82)
            for r in range(hp):
                at, iy = r * ow, r * sh + ri
                even, odd = phases[ri * 2, at:at + ow], phases[ri * 2 + 1, at:at + ow]
                if iy < h:
                    deinterleave(plane[iy], even, odd)
                    fill(even[w - w // 2:], zero)
                    fill(odd[w // 2:], zero)
                else:
                    fill(even, zero)
                    fill(odd, zero)
        return
    for ri in range(sh):
        for r in range(hp):
            iy = r * sh + ri
            for rj in range(sw):
                dst = phases[ri * sw + rj, r * ow:(r + 1) * ow]
                if iy >= h:
                    fill(dst, zero)
                    continue
                src = plane[iy]
                width = (w - rj + sw - 1) // sw
                for k in range(width):
                    dst[k] = src[k * sw + rj]
                fill(dst[width:], zero)


@njit(cache=True, nogil=True)
def _unphase(phases, plane, sh, sw, ow):
    """plane[r·sh + ri, k·sw + rj] += phases[ri·sw + rj, r·ow + k] inside the plane: _phases' adjoint."""
    h, w = plane.shape
    for iy in range(h):
        r, ri = divmod(iy, sh)
        dst = plane[iy]
        at = r * ow
        if sw == 2:
            even, odd = phases[ri * 2, at:at + ow], phases[ri * 2 + 1, at:at + ow]
            pairs = w // 2
            for k in range(pairs):
                dst[2 * k] += even[k]
                dst[2 * k + 1] += odd[k]
            for k in range(pairs, w - pairs):  # as in rows.deinterleave
                dst[2 * k] += even[k]
            continue
        for rj in range(sw):
            src = phases[ri * sw + rj, at:at + ow]
            for k in range((w - rj + sw - 1) // sw):
                dst[k * sw + rj] += src[k]


@njit(cache=True, nogil=True, inline="always")
def _tap_run(run, src, o, a, b, r0, r1, w, lo, hi, adjoint):
    """One image's run of a tap's row of cols (rows r0…r1 of w columns inside the input) against src, the
    flat plane or phase that position q reads at o + q (o + a ≥ 0; o itself may be negative): run[q] =
    src[o + q] for a ≤ q < b, zero elsewhere and on the sides (columns < lo or ≥ hi, which the copy brought
    in from the neighbouring rows); or, for the adjoint, the sides' entries (gradients of zeros) dropped and
    src[o + q] += run[q] for a ≤ q < b."""
    if adjoint:
        _zero_sides(run, r0, r1, w, lo, hi)
        d, s = src[o + a:o + b], run[a:b]
        for k in range(b - a):
            d[k] += s[k]
    else:
        zero = run.dtype.type(0)
        fill(run[:a], zero)
        copy(run[a:b], src[o + a:o + b])
        fill(run[b:], zero)
        _zero_sides(run, r0, r1, w, lo, hi)


@njit(cache=True, nogil=True, inline="always")
def _zero_sides(run, r0, r1, w, lo, hi):
    """run[r·w + k] = 0 for rows r0 ≤ r < r1 and columns k < lo or k ≥ hi."""
    if lo > 0 or hi < w:
        zero = run.dtype.type(0)
        for r in range(r0, r1):
            fill(run[r * w:r * w + lo], zero)
            fill(run[r * w + hi:(r + 1) * w], zero)


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
def scatter_output(out, f0, bias, scale, shift, lo, hi, k0, y):
    """out (F_g, N·q) → y[n, f0 + f, k0 : k0 + q] (+ bias[f0 + f]) then the epilogue (epilogue.py); y (N, F, P).
    An empty bias or scale means none."""
    n_img = y.shape[0]
    q = out.shape[1] // n_img
    affine = scale.shape[0] > 0
    row = np.empty(q, dtype=y.dtype)
    for f in range(out.shape[0]):
        b, s, t = channel(bias, scale, shift, f0 + f, y)
        for n in range(n_img):
            src = out[f, n * q:(n + 1) * q]
            for k in range(q):
                row[k] = src[k] + b
            finish(row, y[n, f0 + f, k0:k0 + q], affine, s, t, lo, hi)


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


def forward(x, w, b, stride, pad, dilation, groups, out_hw, epilogue=None):
    n = x.shape[0]
    f, cg, kh, kw = w.shape
    oh, ow = out_hw
    fg = f // groups
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    stage = Epilogue.or_none(epilogue, x.dtype).args(x.dtype)

    def chunk(lo: int, hi: int) -> None:
        for n0, n1, oy0, oy1 in schedule.tiles(hi - lo, oh, ow, cg * kh * kw):
            xs, ys = x[lo + n0:lo + n1], y[lo + n0:lo + n1]
            cols = np.empty((cg * kh * kw, (n1 - n0) * (oy1 - oy0) * ow), dtype=x.dtype)
            whole = n1 - n0 == 1 and oy1 - oy0 == oh  # one whole image: the GEMM writes y directly
            args = (kh, kw, *stride, *pad, *dilation, oy0, oy1, ow)
            for g in range(groups):
                im2col(xs, g * cg, (g + 1) * cg, *args, cols)
                if whole:
                    out = ys[0, g * fg:(g + 1) * fg]
                    np.matmul(w[g * fg:(g + 1) * fg].reshape(fg, -1), cols, out=out)
                    if epilogue is not None:
                        apply(ys, bias, *stage, g * fg, (g + 1) * fg)
                    elif b is not None:
                        out += b[g * fg:(g + 1) * fg, None]
                    continue
                out = w[g * fg:(g + 1) * fg].reshape(fg, -1) @ cols
                scatter_output(out, g * fg, bias, *stage, oy0 * ow, ys)

    schedule.over_images(chunk, n, n * oh * ow, n * oh * ow * f * cg * kh * kw)
    return y.reshape(n, f, oh, ow)


def backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw):
    n = x.shape[0]
    f, cg, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    fg = f // groups
    dy3 = dy.reshape(n, f, oh * ow)
    dx = np.zeros_like(x) if need_dx else None

    def chunk(lo: int, hi: int) -> np.ndarray:
        dw = np.zeros_like(w)
        for n0, n1, oy0, oy1 in schedule.tiles(hi - lo, oh, ow, cg * kh * kw):
            args = (kh, kw, *stride, *pad, *dilation, oy0, oy1, ow)
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
                    im2col(xs, g * cg, (g + 1) * cg, *args, cols)
                    add_product_t(np.ascontiguousarray(dyt), cols, dw[g * fg:(g + 1) * fg].reshape(fg, -1))
                if need_dx:
                    np.matmul(w[g * fg:(g + 1) * fg].reshape(fg, -1).T, dyt, out=cols)
                    col2im(cols, g * cg, (g + 1) * cg, *args, dx[lo + n0:lo + n1])
        return dw

    parts = schedule.over_images(chunk, n, n * oh * ow, 2 * n * oh * ow * f * cg * kh * kw)
    return dx, (schedule.sum_parts(parts) if need_dw else None)
