"""3×3 stride-1 convolution forward by Winograd's F(4×4, 3×3) (Lavin & Gray, 2016), for large maps.

Each 4×4 block of outputs is computed from a 6×6 block of input with 36 multiplications per channel
instead of 144 (F(2×2, 3×3) of winograd.py needs 64 for the same 16 outputs):

    V = Bᵀ d B  (6×6)     U = G g Gᵀ  (6×6)     Y = Aᵀ [U ⊙ V] A  (4×4)

    Bᵀ = [[4,  0, −5,  0, 1, 0],     G = [[ 1/4,     0,    0],     Aᵀ = [[1, 1,  1, 1,  1, 0],
          [0, −4, −4,  1, 1, 0],          [−1/6, −1/6, −1/6],           [0, 1, −1, 2, −2, 0],
          [0,  4, −4, −1, 1, 0],          [−1/6,  1/6, −1/6],           [0, 1,  1, 4,  4, 0],
          [0, −2, −1,  2, 1, 0],          [1/24, 1/12,  1/6],           [0, 1, −1, 8, −8, 1]]
          [0,  2, −1, −2, 1, 0],          [1/24, −1/12, 1/6],
          [0,  4,  0, −5, 0, 1]]          [   0,    0,    1]]

Summed over channels, the 36 products are 36 matrix products M[ξ] = U[ξ] (F × C) @ V[ξ] (C × T), done by
BLAS. Its constants are larger than F(2×2)'s (up to 8 and 1/24), so rounding grows by about a decimal
digit: a float32 layer's output stays within ~1e-6 of its size (tests/kernels measure it against float64),
well inside what the engine promises (1e-4 against PyTorch and ONNX Runtime). Forward only: backward
stays with F(2×2), the adjoint of the same convolution.
"""

from __future__ import annotations

import numpy as np

from ..jit import njit
from ..rows import copy, fill
from .epilogue import channel, finish
from .winograd import backward, run_forward

__all__ = ["forward", "backward"]  # backward: the adjoint of the same convolution, by F(2×2, 3×3)


@njit(cache=True, nogil=True)
def filter_transform(w, u, f0, f1):
    """w (F, C, 3, 3), filters f0…f1 → u[:, f0:f1] of U (36, F, C) = G g Gᵀ per filter and channel, computed
    in float64, all channels of a filter at once: each step is a loop over the channels, which vectorizes,
    writing U's rows in order (element by element, with divisions, 128 × 128 filters took 4–5.5 ms, as long
    as the matrix products they feed; now 0.25–0.45: docs/performance.md, entry 84)."""
    c = w.shape[1]
    t = np.empty((6, 3, c))
    for i in range(f0, f1):
        for k in range(3):  # G g, column k
            t0, t1, t2, t3, t4, t5 = t[0, k], t[1, k], t[2, k], t[3, k], t[4, k], t[5, k]
            for j in range(c):
                t0[j], t1[j], t2[j], t3[j], t4[j], t5[j] = _g_times(np.float64(w[i, j, 0, k]),
                                                                   np.float64(w[i, j, 1, k]), np.float64(w[i, j, 2, k]))
        for r in range(6):  # (·) Gᵀ, row r
            a0, a1, a2 = t[r, 0], t[r, 1], t[r, 2]
            u0, u1, u2, u3, u4, u5 = (u[6 * r, i], u[6 * r + 1, i], u[6 * r + 2, i], u[6 * r + 3, i],
                                      u[6 * r + 4, i], u[6 * r + 5, i])
            for j in range(c):
                u0[j], u1[j], u2[j], u3[j], u4[j], u5[j] = _g_times(a0[j], a1[j], a2[j])


@njit(cache=True, nogil=True, inline="always")
def _g_times(g0, g1, g2):
    """G (g0, g1, g2)ᵀ in float64, multiplying by 1/4, 1/6, 1/12 and 1/24 (2.4× faster than dividing)."""
    q4, q6, q12, q24 = 1.0 / 4, 1.0 / 6, 1.0 / 12, 1.0 / 24
    return (g0 * q4, -(g0 + g1 + g2) * q6, -(g0 - g1 + g2) * q6, g0 * q24 + g1 * q12 + g2 * q6,
            g0 * q24 - g1 * q12 + g2 * q6, g2)


@njit(cache=True, nogil=True)
def input_transform(x, c0, c1, n0, n1, ty0, ty1, tw, ph, pw, v):
    """v[ξ, c − c0, t] = (Bᵀ d B)[ξ] for the 6×6 input block d at (4·ty − ph, 4·tx − pw) of each tile
    t = ((n − n0)·(ty1 − ty0) + ty − ty0)·tw + tx; outside the input reads zero."""
    h, w = x.shape[2], x.shape[3]
    width = 4 * tw + 2
    rows = np.empty((6, width + pw), dtype=x.dtype)
    e = np.empty((6, width), dtype=x.dtype)
    hi = min(w, width)
    band = ty1 - ty0
    for n in range(n0, n1):
        for c in range(c0, c1):
            cc = c - c0
            plane = x[n, c]
            for ty in range(ty0, ty1):
                iy = 4 * ty - ph
                for r in range(6):
                    fill(rows[r], 0)
                    if 0 <= iy + r < h:
                        copy(rows[r, pw:pw + hi], plane[iy + r, :hi])
                r0, r1, r2, r3, r4, r5 = rows[0], rows[1], rows[2], rows[3], rows[4], rows[5]
                for k in range(width):  # Bᵀ d, every column at once
                    a0, a1, a2, a3, a4, a5 = r0[k], r1[k], r2[k], r3[k], r4[k], r5[k]
                    e[0, k] = 4 * a0 - 5 * a2 + a4
                    e[1, k] = a3 + a4 - 4 * (a1 + a2)
                    e[2, k] = 4 * (a1 - a2) + a4 - a3
                    e[3, k] = 2 * (a3 - a1) + a4 - a2
                    e[4, k] = 2 * (a1 - a3) + a4 - a2
                    e[5, k] = 4 * a1 - 5 * a3 + a5
                t = ((n - n0) * band + ty - ty0) * tw
                for r in range(6):  # (·) B along each row, tile by tile
                    er = e[r]
                    o0, o1, o2 = v[6 * r, cc, t:t + tw], v[6 * r + 1, cc, t:t + tw], v[6 * r + 2, cc, t:t + tw]
                    o3, o4, o5 = v[6 * r + 3, cc, t:t + tw], v[6 * r + 4, cc, t:t + tw], v[6 * r + 5, cc, t:t + tw]
                    for tx in range(tw):
                        k = 4 * tx
                        a0, a1, a2, a3, a4, a5 = er[k], er[k + 1], er[k + 2], er[k + 3], er[k + 4], er[k + 5]
                        o0[tx] = 4 * a0 - 5 * a2 + a4
                        o1[tx] = a3 + a4 - 4 * (a1 + a2)
                        o2[tx] = 4 * (a1 - a2) + a4 - a3
                        o3[tx] = 2 * (a3 - a1) + a4 - a2
                        o4[tx] = 2 * (a1 - a3) + a4 - a2
                        o5[tx] = 4 * a1 - 5 * a3 + a5


@njit(cache=True, nogil=True)
def output_transform(m, f0, bias, scale, shift, lo, hi, n0, n1, ty0, ty1, tw, y):
    """y[n, f0 + f, 4·ty + a, 4·tx + b] = (Aᵀ M A)[a, b] (+ bias) for the outputs inside the map, then the
    epilogue (epilogue.py)."""
    oh = y.shape[2]
    affine = scale.shape[0] > 0
    band = ty1 - ty0
    q = np.empty((4, 6, tw), dtype=m.dtype)
    row = np.empty(4 * tw, dtype=m.dtype)
    for n in range(n0, n1):
        for f in range(m.shape[1]):
            b, sc, sh = channel(bias, scale, shift, f0 + f, y)
            out = y[n, f0 + f]
            for ty in range(ty0, ty1):
                t = ((n - n0) * band + ty - ty0) * tw
                for s in range(6):  # Aᵀ M, column s of every tile of the row at once
                    m0, m1, m2 = m[s, f, t:t + tw], m[6 + s, f, t:t + tw], m[12 + s, f, t:t + tw]
                    m3, m4, m5 = m[18 + s, f, t:t + tw], m[24 + s, f, t:t + tw], m[30 + s, f, t:t + tw]
                    q0, q1, q2, q3 = q[0, s], q[1, s], q[2, s], q[3, s]
                    for tx in range(tw):
                        p1, p2 = m1[tx] + m2[tx], m1[tx] - m2[tx]
                        p3, p4 = m3[tx] + m4[tx], m3[tx] - m4[tx]
                        q0[tx] = m0[tx] + p1 + p3
                        q1[tx] = p2 + 2 * p4
                        q2[tx] = p1 + 4 * p3
                        q3[tx] = p2 + 8 * p4 + m5[tx]
                for a in range(4):
                    oy = 4 * ty + a
                    if oy >= oh:
                        break
                    s0, s1, s2, s3, s4, s5 = q[a, 0], q[a, 1], q[a, 2], q[a, 3], q[a, 4], q[a, 5]
                    for tx in range(tw):  # (·) A along the row
                        p1, p2 = s1[tx] + s2[tx], s1[tx] - s2[tx]
                        p3, p4 = s3[tx] + s4[tx], s3[tx] - s4[tx]
                        row[4 * tx] = s0[tx] + p1 + p3 + b
                        row[4 * tx + 1] = p2 + 2 * p4 + b
                        row[4 * tx + 2] = p1 + 4 * p3 + b
                        row[4 * tx + 3] = p2 + 8 * p4 + s5[tx] + b
                    finish(row, out[oy], affine, sc, sh, lo, hi)


def forward(x, w, b, stride, pad, dilation, groups, out_hw, epilogue=None):
    return run_forward(x, w, b, pad, groups, out_hw, 4, filter_transform, input_transform, output_transform,
                       epilogue)
