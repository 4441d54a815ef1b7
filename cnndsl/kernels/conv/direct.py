"""Direct convolution for stride-1 layers with few filters (LeNet's 6 and 16), on the padded-width grid
(flat.py) with register-blocked taps (taps.py): their GEMMs would be memory-bound.

    forward:  y[n, f] on an oh × Wp grid = Σ over taps (c, i, j) of w[f, c, i, j] · plane[c] shifted by i·Wp + j
    backward: dW by the same taps against dy on the grid; dx by one GEMM (wᵀ @ dy on the grid) and col2im

The padded planes of a few images at a time are built in a buffer within the schedule's FLAT_WORKSPACE.
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from .flat import col2im_flat, gather_flat, pad_planes, unpad_planes
from .taps import GROUP, VECTOR, forward_block, tap_offsets, unblock, weight_blocks, weight_grad_block


def _images_per_buffer(n: int, c: int, s: int, pad) -> int:
    """Images of padded planes (C·S floats each) per _plane_buffer: as many as fit schedule.FLAT_WORKSPACE, or the
    whole batch when there is no padding (the buffer is x itself)."""
    return max(1, schedule.FLAT_WORKSPACE // (c * s)) if tuple(pad) != (0, 0) else n


def _plane_buffer(x: np.ndarray, a: int, e: int, pad, hp: int, wp: int) -> tuple[np.ndarray, int]:
    """Images a…e of x as zero-padded planes in one flat buffer, and the index of image a in it: all of x
    itself when there is no padding, else a copy with a margin for the direct kernels' whole vectors."""
    if tuple(pad) == (0, 0):
        return np.ascontiguousarray(x).reshape(-1), a
    c, s = x.shape[1], hp * wp
    buf = np.empty((e - a) * c * s + VECTOR, dtype=x.dtype)
    buf[-VECTOR:] = 0
    pad_planes(x[a:e], *pad, wp, buf[:(e - a) * c * s].reshape(e - a, c, s))
    return buf, 0


def forward(x, w, b, stride, pad, dilation, groups, out_hw):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    hp, wp = h + 2 * pad[0], wd + 2 * pad[1]
    s = hp * wp
    y = np.empty((n, f) + tuple(out_hw), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    offs = tap_offsets(cg, kh, kw, s, wp, *dilation)
    reach = int(offs.max())
    blocks = [weight_blocks(w[g * fg:(g + 1) * fg], len(offs), 8) for g in range(groups)]
    per = _images_per_buffer(n, c, s, pad)

    def chunk(lo: int, hi: int) -> None:
        for a in range(lo, hi, per):
            e = min(a + per, hi)
            buf, n0 = _plane_buffer(x, a, e, pad, hp, wp)
            for g in range(groups):
                for k, wt in enumerate(blocks[g]):
                    f0 = g * fg + 8 * k
                    forward_block(buf[g * cg * s:], c * s, n0, offs, reach, wt, f0, min(8, (g + 1) * fg - f0),
                                  bias, wp, y[a:e])

    schedule.over_images(chunk, n, n * out_hw[0] * out_hw[1], y.size * cg * kh * kw)
    return y


def backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    fg, k = f // groups, cg * kh * kw
    oh, ow = dy.shape[2:]
    hp, wp = h + 2 * pad[0], wd + 2 * pad[1]
    s, length = hp * wp, oh * wp
    padded = tuple(pad) != (0, 0)
    dx = (np.empty_like(x) if padded else np.zeros_like(x)) if need_dx else None
    offs = tap_offsets(cg, kh, kw, s, wp, *dilation)
    reach = int(offs.max())
    per_w = _images_per_buffer(n, c, s, pad)
    per_x = max(1, schedule.FLAT_WORKSPACE // ((k + fg) * length))  # images of columns per GEMM

    def chunk(lo: int, hi: int):
        dwt = np.zeros((groups, -(-fg // 4), len(offs), 4, GROUP), dtype=x.dtype) if need_dw else None
        for a in range(lo, hi if need_dw else lo, per_w):
            e = min(a + per_w, hi)
            buf, n0 = _plane_buffer(x, a, e, pad, hp, wp)
            for g in range(groups):
                for q in range(dwt.shape[1]):
                    f0 = g * fg + 4 * q
                    weight_grad_block(buf[g * cg * s:], c * s, n0, offs, reach, dy[a:e], f0, min(4, (g + 1) * fg - f0),
                                           wp, dwt[g, q])
        for a in range(lo, hi if need_dx else lo, per_x):
            e = min(a + per_x, hi)
            grid = np.empty((fg, (e - a) * length), dtype=x.dtype)
            cols = np.empty((k, (e - a) * length), dtype=x.dtype)
            dplanes = (np.zeros((e - a, c, hp * wp), dtype=x.dtype) if padded
                       else dx[a:e].reshape(e - a, c, h * wd))
            for g in range(groups):
                gather_flat(dy[a:e], g * fg, (g + 1) * fg, wp, grid)
                np.matmul(w[g * fg:(g + 1) * fg].reshape(fg, k).T, grid, out=cols)
                col2im_flat(cols, g * cg, (g + 1) * cg, kh, kw, *dilation, wp, oh, dplanes)
            if padded:
                unpad_planes(dplanes, *pad, wp, dx[a:e])
        return dwt

    parts = schedule.over_images(chunk, n, n * oh * ow, 2 * dy.size * cg * kh * kw)
    dw = None
    if need_dw:
        dwt = schedule.sum_parts(parts)
        dw = np.concatenate([unblock(dwt[g], (fg, cg, kh, kw)) for g in range(groups)])
    return dx, dw
