"""Activations, value by value, and softmax over the features.

    relu:      y = max(x, 0)              dx = dy · [x > 0]
    relu6:     y = min(max(x, 0), 6)      dx = dy · [0 < x < 6]
    leakyrelu: y = x if x > 0 else a·x    dx = dy · (1 if x > 0 else a)
    tanh:      y = tanh(x)                dx = dy · (1 − y²)
    sigmoid:   y = 1 / (1 + e^−x)         dx = dy · y · (1 − y)
    softmax:   y_i = e^(x_i − max x) / Σ_j e^(x_j − max x)     dx = y · (dy − Σ_j dy_j · y_j)
"""

from __future__ import annotations

import numpy as np

FORWARD = {
    "relu": lambda x, a: np.maximum(x, 0),
    "relu6": lambda x, a: np.minimum(np.maximum(x, 0), 6),
    "leakyrelu": lambda x, a: np.where(x > 0, x, a["slope"] * x),
    "tanh": lambda x, a: np.tanh(x),
    "sigmoid": lambda x, a: 1 / (1 + np.exp(-x)),
    "identity": lambda x, a: x,
}

# the derivative from the input x and the output y
SLOPE = {
    "relu": lambda x, y, a: (x > 0).astype(x.dtype),
    "relu6": lambda x, y, a: ((x > 0) & (x < 6)).astype(x.dtype),
    "leakyrelu": lambda x, y, a: np.where(x > 0, 1, a["slope"]).astype(x.dtype),
    "tanh": lambda x, y, a: 1 - y * y,
    "sigmoid": lambda x, y, a: y * (1 - y),
    "identity": lambda x, y, a: np.ones_like(x),
}


def activation_forward(name, x, a):
    return FORWARD[name](x, a).astype(x.dtype)


def activation_backward(name, dy, x, y, a):
    return (dy * SLOPE[name](x, y, a)).astype(dy.dtype)


def softmax_forward(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_backward(dy, y):
    return y * (dy - (dy * y).sum(axis=1, keepdims=True))
