"""Softmax, and the fused, numerically stable softmax-cross-entropy of training.

    softmax(z)_i = exp(z_i − max z) / Σ_j exp(z_j − max z)
    loss = mean_n [ log Σ_j exp(z_nj − m_n) + m_n − z_n,label ],   dz = (softmax(z) − onehot) / N
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def softmax_forward(z, y):
    n_img, k = z.shape
    for n in range(n_img):
        m = z[n, 0]
        for j in range(k):
            m = max(m, z[n, j])
        s = 0.0
        for j in range(k):
            e = np.exp(z[n, j] - m)
            y[n, j] = e
            s += e
        for j in range(k):
            y[n, j] = y[n, j] / s


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
    softmax_forward(z, probs)
    for n in range(n_img):
        m = z[n, 0]
        for j in range(k):
            m = max(m, z[n, j])
        s = 0.0
        for j in range(k):
            s += np.exp(z[n, j] - m)
        total += np.log(s) + m - z[n, labels[n]]
        for j in range(k):
            dz[n, j] = probs[n, j] / n_img
        dz[n, labels[n]] -= 1.0 / n_img
    return total / n_img
