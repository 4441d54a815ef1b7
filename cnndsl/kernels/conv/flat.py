"""The padded-width grid, for stride-1 convolutions with few filters (LeNet's 6 and 16).

Computed at every position of an oh × Wp grid (Wp the padded input width) instead of oh × ow, output
position q reads the padded input plane at q + i·dh·Wp + j·dw for kernel tap (i, j): every tap is then
one contiguous run per image instead of one short run per output row. The Wp − ow extra columns of
each row are computed and dropped (their gradient is zero). Forward and the weight gradient run on it
directly (taps.py); here are the planes and the input gradient's GEMM layout and col2im.

    planes (N, C, S)  S ≥ Hp·Wp, the padded planes flattened (zero margins)
    cols  ((c1−c0)·kh·kw, N·L)  L = oh·Wp
"""

from __future__ import annotations

from ..jit import njit
from ..rows import copy, fill


@njit(cache=True, nogil=True)
def pad_planes(x, ph, pw, wp, planes):
    """x (N, C, H, W) → planes (N, C, S): row y at (y + ph)·Wp + pw, zero elsewhere."""
    n_img, n_c, h, w = x.shape
    planes[:] = 0
    for n in range(n_img):
        for c in range(n_c):
            for y in range(h):
                start = (y + ph) * wp + pw
                copy(planes[n, c, start:start + w], x[n, c, y])


@njit(cache=True, nogil=True)
def unpad_planes(planes, ph, pw, wp, dx):
    """The adjoint's crop: dx[n, c, y] = planes[n, c, (y + ph)·Wp + pw …]."""
    n_img, n_c, h, w = dx.shape
    for n in range(n_img):
        for c in range(n_c):
            for y in range(h):
                start = (y + ph) * wp + pw
                copy(dx[n, c, y], planes[n, c, start:start + w])


@njit(cache=True, nogil=True)
def col2im_flat(cols, c0, c1, kh, kw, dh, dw, wp, oh, planes):
    """planes[n, c, q + i·dh·Wp + j·dw] += cols[(c, i, j), n·L + q]: the input gradient from the columns'."""
    n_img, _, s = planes.shape
    length = oh * wp
    for c in range(c0, c1):
        for i in range(kh):
            for j in range(kw):
                row = cols[((c - c0) * kh + i) * kw + j]
                off = i * dh * wp + j * dw
                avail = min(length, s - off)  # the last row's dropped columns may run past the plane
                for n in range(n_img):
                    dst = planes[n, c, off:off + avail]
                    src = row[n * length:n * length + avail]
                    for k in range(avail):
                        dst[k] += src[k]


@njit(cache=True, nogil=True)
def gather_flat(dy, f0, f1, wp, g):
    """dy (N, F, oh, ow), filters f0…f1 → g (f1 − f0, N·L) on the grid, zero in the extra columns."""
    n_img, _, oh, ow = dy.shape
    length = oh * wp
    for f in range(f0, f1):
        for n in range(n_img):
            for oy in range(oh):
                start = n * length + oy * wp
                copy(g[f - f0, start:start + ow], dy[n, f, oy])
                fill(g[f - f0, start + ow:start + wp], 0)
