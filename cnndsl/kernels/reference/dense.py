"""A dense (fully connected) layer.

    x (N, I), W (O, I), b (O,) → y (N, O):  y[n, o] = b[o] + Σ_i x[n, i] · W[o, i]
    backward: dx = dy · W,  dW = dyᵀ · x,  db = Σ_n dy
"""

from __future__ import annotations

import numpy as np


def dense_forward(x, w, b):
    y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    for o in range(w.shape[0]):  # one output feature at a time: a dot product with its row of W
        y[:, o] = x @ w[o] + (b[o] if b is not None else 0)
    return y


def dense_backward(dy, x, w, has_bias):
    dx = np.zeros_like(x)
    dw = np.empty_like(w)
    for o in range(w.shape[0]):
        dx += dy[:, o:o + 1] * w[o]          # every output feature sends its gradient back through its row
        dw[o] = dy[:, o] @ x                 # and its row learns from the inputs it saw
    return dx, dw, (dy.sum(axis=0) if has_bias else None)
