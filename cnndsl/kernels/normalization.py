"""Local response normalization (AlexNet) and batch normalization.

LRN, the paper's formula, over the channel window W(c) = [c − size//2, c + (size−1)//2]:
    s_c = k + α Σ_{j∈W(c)} a_j²,   b_c = a_c · s_c^(−β)
    da_c = dy_c · s_c^(−β) − 2αβ · a_c · Σ_{j: c∈W(j)} dy_j · a_j · s_j^(−β−1)
Batch norm over (N, P) per channel, x (N, C, P), x̂ recomputed from x in backward:
    x̂ = (x − μ) / √(σ² + ε),  y = γ x̂ + β
    dx = γ / (M √(σ² + ε)) · (M dy − Σ dy − x̂ Σ dy x̂)     (training: μ, σ² from the batch)
"""

from __future__ import annotations

import numpy as np

from .jit import njit
from .rows import fill


@njit(cache=True, nogil=True, inline="always")
def _inverse_power(s, b, out):
    """out = s^(−b) along a row; for β = 0.75 (every published LRN) as 1/√s · √(1/√s)."""
    one = s.dtype.type(1)
    if b == 0.75:
        for q in range(s.shape[0]):
            r = one / np.sqrt(s[q])
            out[q] = r * np.sqrt(r)
    else:
        for q in range(s.shape[0]):
            out[q] = s[q] ** (-b)


@njit(cache=True, nogil=True, error_model="numpy")
def lrn_forward(x, size, alpha, beta, k, y, scale):
    """x, y, scale (N, C, P); scale keeps s_c for backward. The window sum slides along the channels;
    the power is _inverse_power's, row by row (numba's ** per element took 6–7 ns a value)."""
    n_img, n_c, p = x.shape
    lo, hi = size // 2, (size - 1) // 2
    a, kk = x.dtype.type(alpha), x.dtype.type(k)
    acc = np.empty(p, dtype=np.float64)
    for n in range(n_img):
        fill(acc, 0.0)
        for j in range(min(hi + 1, n_c)):  # the window of channel 0: channels 0 … hi
            _add_squares(acc, x[n, j], 1.0)
        for c in range(n_c):
            s, out, row = scale[n, c], y[n, c], x[n, c]
            for q in range(p):
                s[q] = kk + a * x.dtype.type(acc[q])
            _inverse_power(s, beta, out)
            for q in range(p):
                out[q] *= row[q]
            enter, leave = c + hi + 1, c - lo
            if enter < n_c:
                _add_squares(acc, x[n, enter], 1.0)
            if leave >= 0:
                _add_squares(acc, x[n, leave], -1.0)


@njit(cache=True, nogil=True)
def _add_squares(acc, row, sign):
    """acc += sign · row² in float64 (sign ±1: exact)."""
    for q in range(row.shape[0]):
        v = np.float64(row[q])
        acc[q] += sign * (v * v)


@njit(cache=True, nogil=True, error_model="numpy")
def lrn_backward(dy, x, scale, size, alpha, beta, dx):
    """A plane at a time: t_j = dy_j · a_j · s_j^(−β−1) for every channel, then its window sum (over the j
    whose window holds c: c − hi … c + lo) slides along the channels as forward's does."""
    n_img, n_c, p = x.shape
    lo, hi = size // 2, (size - 1) // 2
    a, b = x.dtype.type(alpha), x.dtype.type(beta)
    power = np.empty((n_c, p), dtype=x.dtype)  # s^(−β)
    t = np.empty((n_c, p), dtype=x.dtype)
    acc = np.empty(p, dtype=np.float64)
    ab2 = 2 * a * b
    for n in range(n_img):
        for j in range(n_c):
            _inverse_power(scale[n, j], b, power[j])
            for q in range(p):
                t[j, q] = dy[n, j, q] * x[n, j, q] * power[j, q] / scale[n, j, q]
        acc[:] = 0.0
        for j in range(min(lo + 1, n_c)):  # the j whose window holds channel 0: 0 … lo
            for q in range(p):
                acc[q] += t[j, q]
        for c in range(n_c):
            for q in range(p):
                dx[n, c, q] = dy[n, c, q] * power[c, q] - ab2 * x[n, c, q] * x.dtype.type(acc[q])
            enter, leave = c + lo + 1, c - hi
            if enter < n_c:
                for q in range(p):
                    acc[q] += t[enter, q]
            if leave >= 0:
                for q in range(p):
                    acc[q] -= t[leave, q]


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def batch_stats(x, mean, var, c0, c1):
    """Per channel c0…c1 of x (N, C, P): the mean and the biased variance, in one pass with float64 sums
    (Σx and Σx²: exact enough for float32 data unless |mean| exceeds the spread ~10⁴-fold). Reassociated
    (only), so the sums vectorize: in order, each add waits for the last (3× slower)."""
    n_img, n_c, p = x.shape
    m = n_img * p
    for c in range(c0, c1):
        s1 = 0.0
        s2 = 0.0
        for n in range(n_img):
            row = x[n, c]
            for q in range(p):
                v = np.float64(row[q])
                s1 += v
                s2 += v * v
        mu = s1 / m
        mean[c] = mu
        var[c] = max(s2 / m - mu * mu, 0.0)


@njit(cache=True, nogil=True)
def bn_affine(mean, var, gamma, beta, eps, scale, shift):
    """The scale and shift of every channel, as bn_forward computes and rounds them (for a convolution that
    applies the batch norm as it writes: kernels/conv/epilogue.py). One call; in NumPy, thirteen."""
    for c in range(scale.shape[0]):
        inv = 1.0 / np.sqrt(var[c] + eps)
        scale[c] = gamma[c] * inv
        shift[c] = beta[c] - mean[c] * gamma[c] * inv


@njit(cache=True, nogil=True)
def bn_forward(x, mean, var, gamma, beta, eps, y, c0, c1):
    """y = γ (x − μ) / √(σ² + ε) + β for channels c0…c1."""
    n_img, n_c, p = x.shape
    for c in range(c0, c1):
        inv = 1.0 / np.sqrt(var[c] + eps)
        scale = x.dtype.type(gamma[c] * inv)
        shift = x.dtype.type(beta[c] - mean[c] * gamma[c] * inv)
        for n in range(n_img):
            src = x[n, c]
            dst = y[n, c]
            for q in range(p):
                dst[q] = src[q] * scale + shift


@njit(cache=True, nogil=True)
def bn_clamp_forward(x, mean, var, gamma, beta, eps, high, y, c0, c1):
    """min(max(γ (x − μ) / √(σ² + ε) + β, 0), high): batch norm and the ReLU (high = ∞) or ReLU6 (high = 6)
    after it, in one pass (inference; y may be x)."""
    n_img, n_c, p = x.shape
    for c in range(c0, c1):
        inv = 1.0 / np.sqrt(var[c] + eps)
        scale = x.dtype.type(gamma[c] * inv)
        shift = x.dtype.type(beta[c] - mean[c] * gamma[c] * inv)
        zero, top = x.dtype.type(0), x.dtype.type(high)
        for n in range(n_img):
            src = x[n, c]
            dst = y[n, c]
            for q in range(p):
                dst[q] = min(max(src[q] * scale + shift, zero), top)


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def bn_backward(dy, x, mean, var, gamma, eps, batch_stats_used, dx, dgamma, dbeta, c0, c1):
    """batch_stats_used: training mode (μ, σ² depend on x); otherwise running statistics (constants).
    x̂ is recomputed from x. Channels c0…c1 only: each channel's sums and gradient are its own."""
    n_img, n_c, p = dy.shape
    m = n_img * p
    for c in range(c0, c1):
        inv = 1.0 / np.sqrt(var[c] + eps)
        mu = mean[c]
        s1 = 0.0
        s2 = 0.0
        for n in range(n_img):
            for q in range(p):
                g = dy[n, c, q]
                s1 += g
                s2 += g * (x[n, c, q] - mu) * inv
        dbeta[c] = s1
        dgamma[c] = s2
        scale = gamma[c] * inv
        if batch_stats_used:  # in float64: the three terms nearly cancel
            a = scale
            b1 = scale * s1 / m
            b2 = scale * s2 / m * inv
            for n in range(n_img):
                for q in range(p):
                    dx[n, c, q] = a * dy[n, c, q] - b1 - (x[n, c, q] - mu) * b2
        else:
            a = x.dtype.type(scale)
            for n in range(n_img):
                for q in range(p):
                    dx[n, c, q] = a * dy[n, c, q]
