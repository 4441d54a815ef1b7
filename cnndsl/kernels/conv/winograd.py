"""3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, 2016).

Each 2×2 block of outputs ("tile") is computed from a 4×4 block of input with 16 multiplications per
channel instead of 36:

    V = Bᵀ d B  (input tile, 4×4)     U = G g Gᵀ  (filter, 4×4)     Y = Aᵀ [U ⊙ V] A  (output tile, 2×2)

Summed over channels, the 16 element-wise products become 16 matrix products, one per position ξ of the
4×4 transform:  M[ξ] (F × T) = U[ξ] (F × C) @ V[ξ] (C × T)  over T tiles — 4/9 of the direct method's
multiply-adds, done by BLAS. Backward is the adjoint of each step, with the same matrix products:

    dM = A dY Aᵀ,   dU[ξ] = dM[ξ] @ V[ξ]ᵀ → dW = Gᵀ dU G,   dV[ξ] = U[ξ]ᵀ @ dM[ξ] → dx += B dV Bᵀ

Tiles overlap by two input rows and columns; positions outside the input read as zero (the padding), and
outputs past the edge of an odd-sized map are dropped (their gradient is zero). The transform constants
are 0, ±1 and ±½, so the rounding error stays within a few ulp of the direct method's. Every kernel
works in its arrays' dtype (float32, or float64 for gradient checks).
"""

from __future__ import annotations

import numpy as np

from .. import schedule
from ..blas import add_product_t
from ..jit import njit
from ..rows import copy, fill
from .epilogue import Epilogue, channel, finish

# G (4×3): U = G g Gᵀ
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


@njit(cache=True, nogil=True)
def filter_transform(w, u, f0, f1):
    """w (F, C, 3, 3), filters f0…f1 → u[:, f0:f1] of U (16, F, C) = G g Gᵀ per filter and channel, all
    channels of a filter at once (`transformed` runs it)."""
    c = w.shape[1]
    t = np.empty((4, 3, c), dtype=w.dtype)
    for i in range(f0, f1):
        for k in range(3):  # G g: rows
            for j in range(c):
                g0, g1, g2 = w[i, j, 0, k], w[i, j, 1, k], w[i, j, 2, k]
                t[0, k, j] = g0
                t[1, k, j] = 0.5 * (g0 + g1 + g2)
                t[2, k, j] = 0.5 * (g0 - g1 + g2)
                t[3, k, j] = g2
        for r in range(4):  # (·) Gᵀ: columns
            t0, t1, t2 = t[r, 0], t[r, 1], t[r, 2]
            u0, u1, u2, u3 = u[4 * r, i], u[4 * r + 1, i], u[4 * r + 2, i], u[4 * r + 3, i]
            for j in range(c):
                u0[j] = t0[j]
                u1[j] = 0.5 * (t0[j] + t1[j] + t2[j])
                u2[j] = 0.5 * (t0[j] - t1[j] + t2[j])
                u3[j] = t2[j]


def transformed(kernel, w: np.ndarray, points: int) -> np.ndarray:
    """U (points, F, C) of the filters w (F, C, 3, 3): kernel(w, u, f0, f1) — this module's or
    winograd4.py's filter transform — over chunks of the filters, on every core when U is large (512 × 512
    filters: 3.4 ms on one core, in a layer of ~12 ms at batch 1; entry 84)."""
    f, c = w.shape[:2]
    u = np.empty((points, f, c), dtype=w.dtype)
    schedule.run_batched(lambda f0, f1: kernel(w, u, f0, f1), f, worth_it=u.size >= schedule.MIN_ELEMENTS)
    return u


@njit(cache=True, nogil=True)
def filter_transform_adjoint(du):
    """dU (16, F, C) → dW (F, C, 3, 3) = Gᵀ dU G per filter and channel."""
    f, c = du.shape[1], du.shape[2]
    dw = np.empty((f, c, 3, 3), dtype=du.dtype)
    t = np.empty((4, 3, c), dtype=du.dtype)
    for i in range(f):
        for r in range(4):  # (·) G: columns
            a0, a1, a2, a3 = du[4 * r, i], du[4 * r + 1, i], du[4 * r + 2, i], du[4 * r + 3, i]
            for j in range(c):
                t[r, 0, j] = a0[j] + 0.5 * (a1[j] + a2[j])
                t[r, 1, j] = 0.5 * (a1[j] - a2[j])
                t[r, 2, j] = 0.5 * (a1[j] + a2[j]) + a3[j]
        for k in range(3):  # Gᵀ (·): rows
            for j in range(c):
                t0, t1, t2, t3 = t[0, k, j], t[1, k, j], t[2, k, j], t[3, k, j]
                dw[i, j, 0, k] = t0 + 0.5 * (t1 + t2)
                dw[i, j, 1, k] = 0.5 * (t1 - t2)
                dw[i, j, 2, k] = 0.5 * (t1 + t2) + t3
    return dw


@njit(cache=True, nogil=True)
def _load_rows(plane, iy, pw, rows):
    """rows[r, pw + ix] = plane[iy + r, ix] for the 4 rows from iy; zero outside the plane."""
    h, w = plane.shape
    hi = min(w, rows.shape[1] - pw)
    for r in range(4):
        fill(rows[r], 0)
        if 0 <= iy + r < h:
            copy(rows[r, pw:pw + hi], plane[iy + r, :hi])


@njit(cache=True, nogil=True)
def input_transform(x, c0, c1, n0, n1, ty0, ty1, tw, ph, pw, v):
    """v[ξ, c − c0, t] = (Bᵀ d B)[ξ] for the 4×4 input block d at the top-left corner (2·ty − ph, 2·tx − pw)
    of each tile t = ((n − n0)·(ty1 − ty0) + ty − ty0)·tw + tx; outside the input reads zero.
    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]."""
    width = 2 * tw + 2 + pw  # every column a tile reads, and room for the copy's left margin
    rows = np.empty((4, width), dtype=x.dtype)
    e = np.empty((4, width), dtype=x.dtype)
    band = ty1 - ty0
    for n in range(n0, n1):
        for c in range(c0, c1):
            cc = c - c0
            for ty in range(ty0, ty1):
                _load_rows(x[n, c], 2 * ty - ph, pw, rows)
                for k in range(2 * tw + 2):  # Bᵀ d, every column at once
                    b0, b1, b2, b3 = rows[0, k], rows[1, k], rows[2, k], rows[3, k]
                    e[0, k] = b0 - b2
                    e[1, k] = b1 + b2
                    e[2, k] = b2 - b1
                    e[3, k] = b1 - b3
                t = ((n - n0) * band + ty - ty0) * tw
                for r in range(4):  # (·) B along each row, tile by tile
                    o0, o1 = v[4 * r, cc, t:t + tw], v[4 * r + 1, cc, t:t + tw]
                    o2, o3 = v[4 * r + 2, cc, t:t + tw], v[4 * r + 3, cc, t:t + tw]
                    er = e[r]
                    for tx in range(tw):
                        a0, a1, a2, a3 = er[2 * tx], er[2 * tx + 1], er[2 * tx + 2], er[2 * tx + 3]
                        o0[tx] = a0 - a2
                        o1[tx] = a1 + a2
                        o2[tx] = a2 - a1
                        o3[tx] = a1 - a3


@njit(cache=True, nogil=True)
def input_transform_adjoint(dv, c0, c1, n0, n1, ty0, ty1, tw, ph, pw, dx):
    """dx[n, c] += B dV Bᵀ over each tile's 4×4 input block (the adjoint of input_transform);
    B v = (v0, v1 − v2 + v3, −v0 + v1 + v2, −v3)."""
    h, w = dx.shape[2], dx.shape[3]
    width = 2 * tw + 2
    e = np.empty((4, width), dtype=dv.dtype)
    band = ty1 - ty0
    lo, hi = pw, min(width, w + pw)  # buffer columns k inside the plane: 0 ≤ k − pw < w
    for n in range(n0, n1):
        for c in range(c0, c1):
            cc = c - c0
            plane = dx[n, c]
            for ty in range(ty0, ty1):
                t = ((n - n0) * band + ty - ty0) * tw
                e[:] = 0.0
                for r in range(4):  # (·) Bᵀ along each row; neighbouring tiles overlap by two columns
                    i0, i1 = dv[4 * r, cc, t:t + tw], dv[4 * r + 1, cc, t:t + tw]
                    i2, i3 = dv[4 * r + 2, cc, t:t + tw], dv[4 * r + 3, cc, t:t + tw]
                    er = e[r]
                    for tx in range(tw):
                        a0, a1, a2, a3 = i0[tx], i1[tx], i2[tx], i3[tx]
                        er[2 * tx] += a0
                        er[2 * tx + 1] += a1 - a2 + a3
                        er[2 * tx + 2] += a1 + a2 - a0
                        er[2 * tx + 3] -= a3
                iy = 2 * ty - ph  # B (·) down the columns, added into the rows it came from
                e0, e1, e2, e3 = e[0], e[1], e[2], e[3]
                if 0 <= iy < h:
                    dst = plane[iy]
                    for k in range(lo, hi):
                        dst[k - pw] += e0[k]
                if 0 <= iy + 1 < h:
                    dst = plane[iy + 1]
                    for k in range(lo, hi):
                        dst[k - pw] += e1[k] - e2[k] + e3[k]
                if 0 <= iy + 2 < h:
                    dst = plane[iy + 2]
                    for k in range(lo, hi):
                        dst[k - pw] += e1[k] + e2[k] - e0[k]
                if 0 <= iy + 3 < h:
                    dst = plane[iy + 3]
                    for k in range(lo, hi):
                        dst[k - pw] -= e3[k]


@njit(cache=True, nogil=True)
def output_transform(m, f0, bias, scale, shift, lo, hi, n0, n1, ty0, ty1, tw, y):
    """y[n, f0 + f, 2·ty + a, 2·tx + b] = (Aᵀ M A)[a, b] (+ bias) for the outputs inside the map, then the
    epilogue (epilogue.py): · scale + shift where scale is not empty, clamped to lo…hi.
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]."""
    oh = y.shape[2]
    affine = scale.shape[0] > 0
    band = ty1 - ty0
    r = np.empty((2, 4, tw), dtype=m.dtype)
    row = np.empty(2 * tw, dtype=m.dtype)
    for n in range(n0, n1):
        for f in range(m.shape[1]):
            b, s, t = channel(bias, scale, shift, f0 + f, y)
            out = y[n, f0 + f]
            for ty in range(ty0, ty1):
                t0 = ((n - n0) * band + ty - ty0) * tw
                for c in range(4):  # Aᵀ M, every tile of the row at once
                    m0, m1, m2, m3 = m[c, f, t0:t0 + tw], m[4 + c, f, t0:t0 + tw], m[8 + c, f, t0:t0 + tw], m[12 + c, f, t0:t0 + tw]
                    for tx in range(tw):
                        r[0, c, tx] = m0[tx] + m1[tx] + m2[tx]
                        r[1, c, tx] = m1[tx] - m2[tx] - m3[tx]
                for a in range(2):
                    oy = 2 * ty + a
                    if oy >= oh:
                        break
                    q0, q1, q2, q3 = r[a, 0], r[a, 1], r[a, 2], r[a, 3]
                    for tx in range(tw):
                        row[2 * tx] = q0[tx] + q1[tx] + q2[tx] + b
                        row[2 * tx + 1] = q1[tx] - q2[tx] - q3[tx] + b
                    finish(row, out[oy], affine, s, t, lo, hi)


@njit(cache=True, nogil=True)
def output_transform_adjoint(dy, f0, f1, n0, n1, ty0, ty1, tw, dm):
    """dm[ξ, f − f0, t] = (A dY Aᵀ)[ξ], dY the tile's 2×2 output gradient (zero past the map's edge)."""
    oh, ow = dy.shape[2], dy.shape[3]
    band = ty1 - ty0
    g = np.zeros((2, 2 * tw), dtype=dy.dtype)  # the tile row's two output rows, zero-padded
    for n in range(n0, n1):
        for f in range(f0, f1):
            ff = f - f0
            for ty in range(ty0, ty1):
                oy = 2 * ty
                copy(g[0, :ow], dy[n, f, oy])
                if oy + 1 < oh:
                    copy(g[1, :ow], dy[n, f, oy + 1])
                else:
                    fill(g[1], 0)
                t = ((n - n0) * band + ty - ty0) * tw
                # A dY: rows (p, q), (p + r, q + s), (p − r, q − s), (−r, −s); each row (u, v) times Aᵀ
                # is (u, u + v, u − v, −v)
                g0, g1 = g[0], g[1]
                for i in range(4):
                    d0, d1 = dm[4 * i, ff, t:t + tw], dm[4 * i + 1, ff, t:t + tw]
                    d2, d3 = dm[4 * i + 2, ff, t:t + tw], dm[4 * i + 3, ff, t:t + tw]
                    sr = 1.0 if i == 1 else -1.0  # the sign of r and s in this row (row 0 has none)
                    keep = 0.0 if i == 3 else 1.0  # row 3 has no p and q
                    if i == 0:
                        sr = 0.0
                    for tx in range(tw):
                        u = keep * g0[2 * tx] + sr * g1[2 * tx]
                        v_ = keep * g0[2 * tx + 1] + sr * g1[2 * tx + 1]
                        d0[tx] = u
                        d1[tx] = u + v_
                        d2[tx] = u - v_
                        d3[tx] = -v_


# ---- the drivers: tiles of 2×2 outputs, the 16 matrix products, over the cores --------------------
def forward(x, w, b, stride, pad, dilation, groups, out_hw, epilogue=None):
    return run_forward(x, w, b, pad, groups, out_hw, 2, filter_transform, input_transform, output_transform,
                       epilogue)


def run_forward(x, w, b, pad, groups, out_hw, m, filter_transform, input_transform, output_transform,
                epilogue=None):
    """F(m×m, 3×3) forward: tiles of m×m outputs, (m + 2)² matrix products per group of tiles; the three
    transforms are F(2×2)'s (this module) or F(4×4)'s (winograd4.py). The output transform applies the
    epilogue as it writes (epilogue.py)."""
    n, f = x.shape[0], w.shape[0]
    cg, fg = w.shape[1], f // groups
    oh, ow = out_hw
    th, tw = -(-oh // m), -(-ow // m)
    points = (m + 2) ** 2
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    bias = b if b is not None else np.empty(0, dtype=x.dtype)
    stage = Epilogue.or_none(epilogue, x.dtype).args(x.dtype)
    u = [transformed(filter_transform, w[g * fg:(g + 1) * fg], points) for g in range(groups)]

    def work(a: int, e: int, r0: int, r1: int) -> None:
        xs, ys = x[a:e], y[a:e]
        for n0, n1, ty0, ty1 in schedule.tiles(e - a, r1 - r0, tw, points * (cg + fg),
                                               schedule.WINOGRAD_FORWARD_WORKSPACE):
            ty0, ty1 = ty0 + r0, ty1 + r0
            t = (n1 - n0) * (ty1 - ty0) * tw
            v = np.empty((points, cg, t), dtype=x.dtype)
            prods = np.empty((points, fg, t), dtype=x.dtype)
            for g in range(groups):
                input_transform(xs, g * cg, (g + 1) * cg, n0, n1, ty0, ty1, tw, *pad, v)
                np.matmul(u[g], v, out=prods)
                output_transform(prods, g * fg, bias, *stage, n0, n1, ty0, ty1, tw, ys)

    schedule.images_or_bands(work, n, th, n * th * tw)
    return y


def backward(dy, x, w, stride, pad, dilation, groups, need_dx, need_dw):
    n, f = x.shape[0], w.shape[0]
    cg, fg = w.shape[1], f // groups
    oh, ow = dy.shape[2:]
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    dx = np.zeros_like(x) if need_dx else None
    u = [transformed(filter_transform, w[g * fg:(g + 1) * fg], 16) for g in range(groups)] if need_dx else None

    def work(a: int, e: int, r0: int, r1: int):
        du = np.zeros((groups, 16, fg, cg), dtype=x.dtype) if need_dw else None
        # the input rows of neighbouring bands overlap: a band after the first adds into its own dx
        dxs = (dx[a:e] if r0 == 0 else np.zeros_like(x[a:e])) if need_dx else None
        xs, ds = x[a:e], dy[a:e]
        for n0, n1, ty0, ty1 in schedule.tiles(e - a, r1 - r0, tw, 16 * (2 * cg + fg)):
            ty0, ty1 = ty0 + r0, ty1 + r0
            t = (n1 - n0) * (ty1 - ty0) * tw
            dm = np.empty((16, fg, t), dtype=x.dtype)
            v = np.empty((16, cg, t), dtype=x.dtype)  # the input's transform, or its gradient
            for g in range(groups):
                output_transform_adjoint(ds, g * fg, (g + 1) * fg, n0, n1, ty0, ty1, tw, dm)
                if need_dw:
                    input_transform(xs, g * cg, (g + 1) * cg, n0, n1, ty0, ty1, tw, *pad, v)
                    for xi in range(16):
                        add_product_t(dm[xi], v[xi], du[g, xi])
                if need_dx:
                    np.matmul(u[g].transpose(0, 2, 1), dm, out=v)
                    input_transform_adjoint(v, g * cg, (g + 1) * cg, n0, n1, ty0, ty1, tw, *pad, dxs)
        return du, (dxs if need_dx and r0 > 0 else None)

    parts = schedule.images_or_bands(work, n, th, n * th * tw)
    for _, extra in parts:
        if extra is not None:
            dx += extra
    dw = None
    if need_dw:
        du = schedule.sum_parts([p for p, _ in parts])
        dw = np.concatenate([filter_transform_adjoint(du[g]) for g in range(groups)])
    return dx, dw


def input_gradient_by_f4(w_shape, pad, groups: int, n: int, hw) -> bool:
    """Whether the input gradient of a 3×3 stride-1 layer is computed as a forward convolution (of dy by
    the `turned` filters, padded by `gradient_pad`): where that convolution goes by F(4×4), on wide maps —
    10–30 % faster than the adjoint of F(2×2)'s steps, which shares the output gradient's transform with the
    weight gradient and wins elsewhere (entry 86). Not for a padding over 2, wider than it can pad."""
    f, cg = w_shape[:2]
    return max(pad) <= 2 and schedule.conv_algorithm((cg * groups, f // groups, 3, 3), (1, 1), gradient_pad(pad),
                                                     (1, 1), groups, n, hw) == "winograd4"


def gradient_pad(pad) -> tuple[int, int]:
    return 2 - pad[0], 2 - pad[1]


def turned(w: np.ndarray, groups: int) -> np.ndarray:
    """The filters of the input gradient as a convolution: each group's turned half round and transposed,
    so that dx[c] = Σ_f dy[f] ⋆ rot180(w[f, c])."""
    f, cg = w.shape[:2]
    fg = f // groups
    return np.ascontiguousarray(w.reshape(groups, fg, cg, 3, 3)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
                                .reshape(groups * cg, fg, 3, 3))
