"""Convolution as im2col + one large GEMM (BLAS), and col2im for the input gradient.

    x (N, C, H, W), w (F, C/g, kh, kw) → y (N, F, oh, ow)
    cols[(c, i, j), (n, oy, ox)] = x[n, c, oy·sh − ph + i·dh, ox·sw − pw + j·dw]   (0 outside)
    y_g = w_g.reshape(F/g, K) @ cols_g          K = (C/g)·kh·kw,  one GEMM per group
    dW_g = dy_g @ cols_gᵀ,   dcols_g = w_gᵀ @ dy_g  → col2im → dx
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """x (N, C, H, W), channels c0..c1 → cols ((c1−c0)·kh·kw, N·oh·ow). Row-major writes."""
    n_img, _, h, w = x.shape
    p = oh * ow
    zero = x.dtype.type(0)
    for c in range(c0, c1):
        for i in range(kh):
            for j in range(kw):
                r = ((c - c0) * kh + i) * kw + j
                row = cols[r]
                for n in range(n_img):
                    for oy in range(oh):
                        iy = oy * sh - ph + i * dh
                        base = n * p + oy * ow
                        if iy < 0 or iy >= h:
                            for ox in range(ow):
                                row[base + ox] = zero
                            continue
                        src = x[n, c, iy]
                        for ox in range(ow):
                            ix = ox * sw - pw + j * dw
                            row[base + ox] = src[ix] if 0 <= ix < w else zero


@njit(cache=True)
def col2im(cols, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, dx):
    """The adjoint of im2col: dx[n, c, iy, ix] += cols[(c, i, j), (n, oy, ox)] for channels c0..c1."""
    n_img, _, h, w = dx.shape
    p = oh * ow
    for c in range(c0, c1):
        for i in range(kh):
            for j in range(kw):
                row = cols[((c - c0) * kh + i) * kw + j]
                for n in range(n_img):
                    for oy in range(oh):
                        iy = oy * sh - ph + i * dh
                        if iy < 0 or iy >= h:
                            continue
                        dst = dx[n, c, iy]
                        base = n * p + oy * ow
                        for ox in range(ow):
                            ix = ox * sw - pw + j * dw
                            if 0 <= ix < w:
                                dst[ix] += row[base + ox]


@njit(cache=True)
def scatter_output(out, f0, bias, y):
    """out (F_g, N·P) → y[n, f0 + f, :] (+ bias[f0 + f]); y is (N, F, P). An empty bias means none."""
    n_img, _, p = y.shape
    has_bias = bias.shape[0] > 0
    for f in range(out.shape[0]):
        b = bias[f0 + f] if has_bias else y.dtype.type(0)
        for n in range(n_img):
            src = out[f, n * p:(n + 1) * p]
            dst = y[n, f0 + f]
            for k in range(p):
                dst[k] = src[k] + b


@njit(cache=True)
def gather_grad(dy, f0, f1, dyt):
    """dy (N, F, P), filters f0..f1 → dyt (f1−f0, N·P): the GEMM layout of the output gradient."""
    n_img, _, p = dy.shape
    for f in range(f0, f1):
        for n in range(n_img):
            src = dy[n, f]
            dst = dyt[f - f0, n * p:(n + 1) * p]
            for k in range(p):
                dst[k] = src[k]


@njit(cache=True)
def bias_grad(dy, db):
    """db[f] = Σ_n Σ_p dy[n, f, p]; dy (N, F, P)."""
    n_img, n_f, p = dy.shape
    for f in range(n_f):
        acc = 0.0
        for n in range(n_img):
            row = dy[n, f]
            for k in range(p):
                acc += row[k]
        db[f] = acc


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, pad, dilation, groups: int,
                 out_hw) -> np.ndarray:
    n, c, _, _ = x.shape
    f, cg, kh, kw = w.shape
    oh, ow = out_hw
    fg = f // groups
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    cols = np.empty((cg * kh * kw, n * oh * ow), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    for g in range(groups):
        im2col(x, g * cg, (g + 1) * cg, kh, kw, *stride, *pad, *dilation, oh, ow, cols)
        out = w[g * fg:(g + 1) * fg].reshape(fg, -1) @ cols
        scatter_output(out, g * fg, bias, y)
    return y.reshape(n, f, oh, ow)


def conv_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, has_bias: bool, stride, pad, dilation,
                  groups: int):
    """→ dx, dw, db (db None without bias). The columns are recomputed rather than kept from forward."""
    n, c, _, _ = x.shape
    f, cg, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    fg = f // groups
    dy3 = dy.reshape(n, f, oh * ow)
    dx = np.zeros_like(x)
    dw = np.empty_like(w)
    cols = np.empty((cg * kh * kw, n * oh * ow), dtype=x.dtype)
    dyt = np.empty((fg, n * oh * ow), dtype=x.dtype)
    for g in range(groups):
        im2col(x, g * cg, (g + 1) * cg, kh, kw, *stride, *pad, *dilation, oh, ow, cols)
        gather_grad(dy3, g * fg, (g + 1) * fg, dyt)
        dw[g * fg:(g + 1) * fg] = (dyt @ cols.T).reshape(fg, cg, kh, kw)
        dcols = w[g * fg:(g + 1) * fg].reshape(fg, -1).T @ dyt
        col2im(dcols, g * cg, (g + 1) * cg, kh, kw, *stride, *pad, *dilation, oh, ow, dx)
    db = None
    if has_bias:
        db = np.empty(f, dtype=x.dtype)
        bias_grad(dy3, db)
    return dx, dw, db
