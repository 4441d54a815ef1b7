"""Element-wise activations over flat arrays: y = f(x), and dx = dy · f′ from x or y; and the engine's
NaN/Inf check.

PyTorch's conventions at the kinks: relu′(0) = 0, relu6′ is 1 only on (0, 6), leakyrelu′(0) = slope.
"""

from __future__ import annotations

import numpy as np

from .jit import njit


@njit(cache=True, nogil=True)
def relu_forward(x, y):
    zero = x.dtype.type(0)
    for i in range(x.size):
        y[i] = x[i] if x[i] > zero else zero


@njit(cache=True, nogil=True)
def relu_backward(dy, x, dx):
    zero = x.dtype.type(0)
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > zero else zero


@njit(cache=True, nogil=True)
def relu6_forward(x, y):
    zero, six = x.dtype.type(0), x.dtype.type(6)
    for i in range(x.size):
        y[i] = min(max(x[i], zero), six)


@njit(cache=True, nogil=True)
def relu6_backward(dy, x, dx):
    zero, six = x.dtype.type(0), x.dtype.type(6)
    for i in range(x.size):
        dx[i] = dy[i] if zero < x[i] < six else zero


@njit(cache=True, nogil=True)
def leakyrelu_forward(x, slope, y):
    s = x.dtype.type(slope)
    for i in range(x.size):
        y[i] = x[i] if x[i] > 0 else s * x[i]


@njit(cache=True, nogil=True)
def leakyrelu_backward(dy, x, slope, dx):
    s = x.dtype.type(slope)
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else s * dy[i]


@njit(cache=True, nogil=True)
def tanh_backward(dy, y, dx):
    one = y.dtype.type(1)
    for i in range(y.size):
        dx[i] = dy[i] * (one - y[i] * y[i])


@njit(cache=True, nogil=True)
def sigmoid_forward(x, y):
    one = x.dtype.type(1)
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            y[i] = one / (one + np.exp(-v))
        else:
            e = np.exp(v)
            y[i] = e / (one + e)


@njit(cache=True, nogil=True)
def sigmoid_backward(dy, y, dx):
    one = y.dtype.type(1)
    for i in range(y.size):
        dx[i] = dy[i] * y[i] * (one - y[i])


@njit(cache=True, nogil=True)
def max_exponent(bits, mask):
    """max over k of bits[k] & mask: the float array's bits (as unsigned integers) and its exponent field.
    It equals the mask exactly when some element is NaN or ±Inf. An integer max reduction vectorizes
    with no fast-math flag, where a float test (isfinite, x·0 summed) would need one that assumes NaN
    away; one pass and no temporary, against NumPy's isfinite(a).all() in two."""
    m = bits.dtype.type(0)
    for k in range(bits.shape[0]):
        m = max(m, bits[k] & mask)
    return m
