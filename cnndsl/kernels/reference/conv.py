"""Convolution (cross-correlation, as PyTorch computes it) as a loop over the output positions.

    x (N, C, H, W), w (F, C/G, kh, kw), b (F,) → y (N, F, OH, OW)
    y[n, f, i, j] = b[f] + Σ_{c, p, q} x_pad[n, g·C/G + c, i·sh + p·dh, j·sw + q·dw] · w[f, c, p, q]
    where g = f // (F/G) is the group of filter f, and OH = ⌊(H + 2·ph − dh·(kh − 1) − 1) / sh⌋ + 1.
"""

from __future__ import annotations

import numpy as np


def _window(i: int, j: int, kh: int, kw: int, stride, dilation) -> tuple[slice, slice]:
    """The rows and columns of the padded input that output (i, j) reads."""
    (sh, sw), (dh, dw) = stride, dilation
    return (slice(i * sh, i * sh + dh * (kh - 1) + 1, dh), slice(j * sw, j * sw + dw * (kw - 1) + 1, dw))


def conv_forward(x, w, b, stride, pad, dilation, groups, out_hw):
    n, c, h, w_in = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    y = np.zeros((n, f) + tuple(out_hw), dtype=x.dtype)
    for g in range(groups):
        xs, ws = xp[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg]
        for i in range(out_hw[0]):
            for j in range(out_hw[1]):
                rows, cols = _window(i, j, kh, kw, stride, dilation)
                # (N, C/G, kh, kw) · (F/G, C/G, kh, kw) summed over the window → (N, F/G)
                y[:, g * fg:(g + 1) * fg, i, j] = np.tensordot(xs[:, :, rows, cols], ws, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_backward(dy, x, w, has_bias, stride, pad, dilation, groups):
    """→ dx (N, C, H, W), dw like w, db (F,) or None: each output position sends dy[n, f, i, j] · w back
    to the window it read, and adds dy[n, f, i, j] · window to dw."""
    n, c, h, w_in = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for g in range(groups):
        xs, ws, dys = xp[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg], dy[:, g * fg:(g + 1) * fg]
        for i in range(dy.shape[2]):
            for j in range(dy.shape[3]):
                rows, cols = _window(i, j, kh, kw, stride, dilation)
                d = dys[:, :, i, j]  # (N, F/G)
                dxp[:, g * cg:(g + 1) * cg, rows, cols] += np.tensordot(d, ws, axes=([1], [0]))
                dw[g * fg:(g + 1) * fg] += np.tensordot(d, xs[:, :, rows, cols], axes=([0], [0]))
    dx = dxp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + w_in]
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    return np.ascontiguousarray(dx), dw, db
