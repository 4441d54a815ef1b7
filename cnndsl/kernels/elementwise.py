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


# tanh(x) ≈ x·P(x²)/Q(x²) on [−7.905, 7.905] (clamped beyond, where float32's tanh is within 4 ulp of ±1):
# Eigen's float32 rational approximation, which ONNX Runtime's MLAS uses too. Measured against float64 on
# 2·10⁷ points of ±20: within 7 ulp, 0.7–1.2 ulp on average; |y| ≤ 1 throughout.
TANH_LIMIT = 7.90531110763549805
TANH_P = (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08,
          -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16)  # x¹, x³, … x¹³
TANH_Q = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06)  # x⁰ … x⁶
TANH_TINY = 0.0004  # below it tanh(x) = x in float32


@njit(cache=True, nogil=True, error_model="numpy")
def tanh_forward(x, y):
    """y = tanh(x) for float32, as a rational function that vectorizes (NumPy's tanh is a scalar loop on
    CPUs without AVX-512: 4× slower here, entry 70). NumPy's error model: the division unchecked, so
    that the loop vectorizes. A NaN stays NaN (the clamps let it through). x and y must not be the same
    array: LLVM's run-time overlap check would then pick the scalar loop (8× slower)."""
    f = x.dtype.type
    lim, tiny = f(TANH_LIMIT), f(TANH_TINY)
    p1, p3, p5, p7 = f(TANH_P[0]), f(TANH_P[1]), f(TANH_P[2]), f(TANH_P[3])
    p9, p11, p13 = f(TANH_P[4]), f(TANH_P[5]), f(TANH_P[6])
    q0, q2, q4, q6 = f(TANH_Q[0]), f(TANH_Q[1]), f(TANH_Q[2]), f(TANH_Q[3])
    for i in range(x.size):
        v = x[i]
        c = lim if v > lim else v
        c = -lim if c < -lim else c
        s = c * c
        p = ((((((p13 * s + p11) * s + p9) * s + p7) * s + p5) * s + p3) * s + p1) * c
        q = ((q6 * s + q4) * s + q2) * s + q0
        y[i] = v if abs(v) < tiny else p / q


@njit(cache=True, nogil=True)
def tanh_backward(dy, y, dx):
    one = y.dtype.type(1)
    for i in range(y.size):
        dx[i] = dy[i] * (one - y[i] * y[i])


@njit(cache=True, nogil=True)
def add_forward(a, b, lo, hi, y):
    """y = a + b clamped to lo…hi: a skip connection's sum, with the ReLU (lo = 0) or ReLU6 after it fused
    at inference, or unclamped (±inf). The clamps let a NaN through, so the engine's check still sees it."""
    for i in range(y.size):
        v = a[i] + b[i]
        v = lo if v < lo else v
        y[i] = hi if v > hi else v


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
    away; one pass and no temporary, against NumPy's isfinite(a).all() in two. numba types `bits[k] & mask`
    as a 64-bit integer: cast back to the element's width, the max runs 8 lanes to a vector (float32), not
    4 lanes of emulated unsigned 64-bit compares — 3.4× faster (docs/performance.md, entry 78)."""
    m = bits.dtype.type(0)
    for k in range(bits.shape[0]):
        v = bits.dtype.type(bits[k] & mask)
        m = v if v > m else m
    return m
