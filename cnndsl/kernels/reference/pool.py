"""Pooling as a loop over the output positions.

    maxpool: y[n, c, i, j] = max over the window of x_pad (padding is −∞: it never wins)
    avgpool: y[n, c, i, j] = (Σ over the window of x_pad) / (its size within x_pad)   (padded zeros
             count, as PyTorch's count_include_pad; a window that ceil mode lets hang past the padding is
             divided by the part inside it)
    global:  y[n, c] = max or mean over all of H×W
"""

from __future__ import annotations

import numpy as np


def _windows(out_hw, kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            yield i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)


def _padded(x, pad, kernel, stride, out_hw, value):
    """x padded by `pad` and, for ceil mode's last partial windows, far enough right and down."""
    need_h = (out_hw[0] - 1) * stride[0] + kernel[0]
    need_w = (out_hw[1] - 1) * stride[1] + kernel[1]
    extra_h = max(0, need_h - x.shape[2] - 2 * pad[0])
    extra_w = max(0, need_w - x.shape[3] - 2 * pad[1])
    return np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0] + extra_h), (pad[1], pad[1] + extra_w)), constant_values=value)


def maxpool_forward(x, kernel, stride, pad, out_hw):
    """→ y, and the flat index (into the padded plane) of each window's maximum, the first on ties."""
    xp = _padded(x, pad, kernel, stride, out_hw, -np.inf)
    n, c = x.shape[:2]
    y = np.empty((n, c) + tuple(out_hw), dtype=x.dtype)
    where = np.empty((n, c) + tuple(out_hw), dtype=np.int64)
    for i, j, rows, cols in _windows(out_hw, kernel, stride):
        window = xp[:, :, rows, cols].reshape(n, c, -1)
        k = window.argmax(axis=2)  # the first maximum, as PyTorch
        y[:, :, i, j] = np.take_along_axis(window, k[:, :, None], axis=2)[:, :, 0]
        r, s = np.divmod(k, kernel[1])
        where[:, :, i, j] = (rows.start + r) * xp.shape[3] + cols.start + s
    return y, (where, xp.shape)


def maxpool_backward(dy, cache, x_shape, pad):
    """Each output's gradient goes to the input that was its window's maximum (overlaps add up)."""
    where, padded = cache
    n, c = dy.shape[:2]
    dxp = np.zeros((n, c, padded[2] * padded[3]), dtype=dy.dtype)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            np.add.at(dxp, (np.arange(n)[:, None], np.arange(c)[None, :], where[:, :, i, j]), dy[:, :, i, j])
    dxp = dxp.reshape(n, c, padded[2], padded[3])
    return np.ascontiguousarray(dxp[:, :, pad[0]:pad[0] + x_shape[2], pad[1]:pad[1] + x_shape[3]])


def _area(rows: slice, cols: slice, x_shape, pad) -> int:
    """How many of a window's positions lie within the padded input."""
    h, w = x_shape[2] + 2 * pad[0], x_shape[3] + 2 * pad[1]
    return (min(rows.stop, h) - rows.start) * (min(cols.stop, w) - cols.start)


def avgpool_forward(x, kernel, stride, pad, out_hw):
    xp = _padded(x, pad, kernel, stride, out_hw, 0.0)
    y = np.empty(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    for i, j, rows, cols in _windows(out_hw, kernel, stride):
        y[:, :, i, j] = xp[:, :, rows, cols].sum(axis=(2, 3)) / _area(rows, cols, x.shape, pad)
    return y


def avgpool_backward(dy, x_shape, kernel, stride, pad):
    """Each output's gradient, divided by the window's area, goes to every input of its window."""
    need_h = max((dy.shape[2] - 1) * stride[0] + kernel[0], x_shape[2] + 2 * pad[0])
    need_w = max((dy.shape[3] - 1) * stride[1] + kernel[1], x_shape[3] + 2 * pad[1])
    dxp = np.zeros(x_shape[:2] + (need_h, need_w), dtype=dy.dtype)
    for i, j, rows, cols in _windows(dy.shape[2:], kernel, stride):
        dxp[:, :, rows, cols] += dy[:, :, i, j][:, :, None, None] / _area(rows, cols, x_shape, pad)
    return np.ascontiguousarray(dxp[:, :, pad[0]:pad[0] + x_shape[2], pad[1]:pad[1] + x_shape[3]])


def global_avg_forward(x):
    return x.mean(axis=(2, 3), keepdims=True)


def global_avg_backward(dy, x_shape):
    return np.broadcast_to(dy / (x_shape[2] * x_shape[3]), x_shape).copy()


def global_max_forward(x):
    """→ y (N, C, 1, 1) and the flat index of each channel's maximum (the first on ties)."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    k = flat.argmax(axis=2)
    return np.take_along_axis(flat, k[:, :, None], axis=2)[:, :, :, None], k


def global_max_backward(dy, k, x_shape):
    dx = np.zeros((x_shape[0], x_shape[1], x_shape[2] * x_shape[3]), dtype=dy.dtype)
    np.put_along_axis(dx, k[:, :, None], dy.reshape(x_shape[0], x_shape[1], 1), axis=2)
    return dx.reshape(x_shape)
