"""Seeded, documented initialization: He before ReLU-family layers, Glorot otherwise, PyTorch-like biases."""

import math

import numpy as np

import cnndsl


def test_he_glorot_and_bias_bounds():
    net = cnndsl.parse("network I\ninput 64x16x16\nconv 128 3x3; bn; relu\nconv 64 3x3; tanh\nflatten\n"
                       "dense 500; leakyrelu slope=0.2\ndense 10").init(seed=0)
    p = net.params
    assert abs(p["conv1.weight"].std() - math.sqrt(2 / (64 * 9))) < 0.02 * math.sqrt(2 / (64 * 9))
    limit = math.sqrt(6 / (128 * 9 + 64 * 9))  # Glorot-uniform before tanh
    assert np.abs(p["conv2.weight"]).max() <= limit and np.abs(p["conv2.weight"]).max() > 0.95 * limit
    gain = math.sqrt(2 / (1 + 0.2**2))
    assert abs(p["dense1.weight"].std() - gain / math.sqrt(64 * 12 * 12)) < 0.02 * gain / math.sqrt(64 * 12 * 12)
    bound = 1 / math.sqrt(500)
    assert np.abs(p["dense2.bias"]).max() <= bound
    assert np.array_equal(p["bn1.weight"], np.ones(128, np.float32)) and not p["bn1.bias"].any()
    assert np.array_equal(net.buffers["bn1.running_var"], np.ones(128, np.float32))
    assert all(v.dtype == np.float32 for v in p.values())


def test_seeded_and_stable_under_unrelated_edits():
    a = cnndsl.parse("network A\ninput 3x8x8\nconv 4 3x3\nstem: conv 4 3x3\nflatten\ndense 2").init(seed=7)
    b = cnndsl.parse("network A\ninput 3x8x8\nconv 4 3x3\nrelu\nstem: conv 4 3x3\nflatten\ndense 2").init(seed=7)
    c = cnndsl.parse("network A\ninput 3x8x8\nconv 4 3x3\nstem: conv 4 3x3\nflatten\ndense 2").init(seed=8)
    assert np.array_equal(a.params["stem.weight"], b.params["stem.weight"])
    assert not np.array_equal(a.params["stem.weight"], c.params["stem.weight"])
