"""Softmax, and the fused, numerically stable softmax-cross-entropy of training.

    softmax(z)_i = exp(z_i − max z) / Σ_j exp(z_j − max z)
    loss = mean_n [ log Σ_j exp(z_nj − m_n) + m_n − z_n,label ],   dz = (softmax(z) − onehot) / N
"""

from __future__ import annotations

import numpy as np

from .jit import njit


@njit(cache=True, nogil=True)
def _softmax_row(z, y):
    """y = softmax(z) for one row; returns log Σ exp(z) (the log-sum-exp, shifted by the max)."""
    m = z[0]
    for j in range(z.shape[0]):
        m = max(m, z[j])
    s = 0.0
    for j in range(z.shape[0]):
        e = np.exp(z[j] - m)
        y[j] = e
        s += e
    for j in range(z.shape[0]):
        y[j] = y[j] / s
    return np.log(s) + m


@njit(cache=True, nogil=True)
def softmax_forward(z, y):
    for n in range(z.shape[0]):
        _softmax_row(z[n], y[n])


@njit(cache=True, nogil=True)
def softmax_backward(dy, y, dz):
    """dz = y · (dy − Σ dy·y)."""
    n_img, k = y.shape
    for n in range(n_img):
        dot = 0.0
        for j in range(k):
            dot += dy[n, j] * y[n, j]
        for j in range(k):
            dz[n, j] = y[n, j] * (dy[n, j] - dot)


@njit(cache=True, nogil=True)
def softmax_xent(z, labels, probs, dz):
    """→ mean loss; probs = softmax(z); dz = gradient of the mean loss."""
    n_img, k = z.shape
    total = 0.0
    for n in range(n_img):
        total += _softmax_row(z[n], probs[n]) - z[n, labels[n]]
        for j in range(k):
            dz[n, j] = probs[n, j] / n_img
        dz[n, labels[n]] -= 1.0 / n_img
    return total / n_img
