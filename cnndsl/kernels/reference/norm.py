"""Batch normalization and local response normalization.

Batch norm, per channel c over the batch and positions (m = N·H·W values), in training:
    μ = mean(x),  σ² = mean((x − μ)²),  x̂ = (x − μ) / √(σ² + ε),  y = γ·x̂ + β
    backward: dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ / √(σ² + ε) · (dy − dβ/m − x̂·dγ/m)
At inference μ and σ² are the running statistics: dx = γ / √(σ² + ε) · dy.

LRN (the AlexNet paper), at each position, channel c, with the window W(c) = [c − ⌊size/2⌋, c + ⌊(size−1)/2⌋]:
    s_c = k + α · Σ_{j ∈ W(c)} x_j²,   y_c = x_c · s_c^(−β)
    backward: dx_j = dy_j · s_j^(−β) − 2αβ · x_j · Σ_{c : j ∈ W(c)} dy_c · x_c · s_c^(−β−1)
"""

from __future__ import annotations

import numpy as np


def _channels_last(x):
    """(N, C, H, W) or (N, C) → (N·H·W, C): one row per value of each channel."""
    return np.moveaxis(x.reshape(x.shape[0], x.shape[1], -1), 1, 2).reshape(-1, x.shape[1])


def _back(rows, shape):
    n, c = shape[0], shape[1]
    return np.ascontiguousarray(np.moveaxis(rows.reshape(n, -1, c), 2, 1).reshape(shape))


def batchnorm_forward(x, gamma, beta, mean, var, eps):
    """With the statistics given (the batch's in training, the running ones at inference)."""
    rows = _channels_last(x)
    xhat = (rows - mean) / np.sqrt(var + eps)
    return _back(xhat * gamma + beta, x.shape)


def batch_statistics(x):
    """The batch's mean and (biased) variance per channel, in float64 as the fast kernel sums."""
    rows = _channels_last(x).astype(np.float64)
    return rows.mean(axis=0), rows.var(axis=0)


def batchnorm_backward(dy, x, gamma, mean, var, eps, training):
    """(The sums over the batch in float64, as the fast kernel takes them: with dy constant, the true
    dγ is 0 and float32 sums would leave noise of 1e-4.)"""
    rows, d = _channels_last(x).astype(np.float64), _channels_last(dy).astype(np.float64)
    inv = 1 / np.sqrt(var.astype(np.float64) + eps)
    xhat = (rows - mean) * inv
    dbeta, dgamma = d.sum(axis=0), (d * xhat).sum(axis=0)
    if training:
        m = rows.shape[0]
        dx = gamma * inv * (d - dbeta / m - xhat * dgamma / m)
    else:
        dx = gamma * inv * d
    return _back(dx, x.shape), dgamma, dbeta


def _window(c: int, channels: int, size: int) -> range:
    return range(max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1))


def lrn_forward(x, size, alpha, beta, k):
    """→ y and s (the normalizer of every value, for backward)."""
    s = np.empty_like(x)
    for c in range(x.shape[1]):
        s[:, c] = k + alpha * sum(x[:, j] ** 2 for j in _window(c, x.shape[1], size))
    return x * s ** (-beta), s


def lrn_backward(dy, x, s, size, alpha, beta):
    dx = dy * s ** (-beta)
    t = dy * x * s ** (-beta - 1)  # what channel c's output says about every input in its window
    for j in range(x.shape[1]):
        readers = [c for c in range(x.shape[1]) if j in _window(c, x.shape[1], size)]
        dx[:, j] -= 2 * alpha * beta * x[:, j] * sum(t[:, c] for c in readers)
    return dx
