"""Inference reuses buffers — an element-wise layer writes over its input, a batch norm clamps as the ReLU
or ReLU6 after it would, in the same pass — and computes exactly what the forward pass that keeps
everything computes, never touching the caller's array, a view, a tensor read twice or a layer asked for."""

import numpy as np
import pytest

import cnndsl
from cnndsl.resources import lesson_networks

from ..conftest import net_of
from ..export.test_onnx import EVERY_OP, with_statistics

SHARED = [
    # a batch norm read twice (by its ReLU and by an add): not fused, not overwritten
    ("conv 4 3x3 pad=1\na: bn\nrelu\nadd @a\nflatten\ndense 3", "2x6x6"),
    # flatten's output is a view of the conv's: the ReLU after it allocates
    ("conv 4 3x3\nflatten\nrelu\ndense 3", "2x6x6"),
    # a ReLU of the input itself; a merge of a fused pair and its producer
    ("relu\nr: conv 2 1x1\nfrom @r\nbn; relu6\nconcat @r\ngap\nflatten\ndense 2", "2x5x5"),
    # a skip connection's sum and the ReLU after it in one pass; ReLU6; three inputs; a sum read twice
    ("a: conv 4 3x3 pad=1\nconv 4 3x3 pad=1\nadd @a\nrelu\nb: conv 4 3x3 pad=1\nadd @a\nrelu6\n"
     "c: conv 4 1x1\nadd @a @b\nrelu\ns: add @c\nrelu\nadd @s\nflatten\ndense 3", "2x6x6"),
    # batch norm, ReLU6 (MobileNet), and a batch norm after a dense layer
    ("conv 6 3x3 groups=2 pad=1; bn; relu6\nconv 6 3x3 groups=6 stride=2 pad=1; bn; relu6\nflatten\ndense 5; bn; relu",
     "2x7x7"),
]


def pair(net, x):
    kept = net.forward(x, mode="eval", grad=True)  # nothing reused
    reused = net.forward(x, mode="eval", grad=False)
    return kept, reused


@pytest.mark.parametrize("body, shape", EVERY_OP + SHARED)
def test_reused_buffers_give_the_same_output(body, shape):
    net = with_statistics(net_of(body, shape).init(1))
    x = np.random.default_rng(0).standard_normal((3, *net.input_shape)).astype(np.float32)
    before = x.copy()
    kept, reused = pair(net, x)
    np.testing.assert_array_equal(kept, reused)
    np.testing.assert_array_equal(x, before)  # the caller's array is never written


def test_an_add_applies_the_relu_after_it():
    net = with_statistics(net_of(SHARED[3][0], SHARED[3][1]).init(1))
    plan = net.engine._plan(False, False, ())
    fused_adds = {after: add for after, add in plan.fused.items() if net.node(add).op == "add"}
    assert sorted(fused_adds.values()) == ["add1", "add2", "add3"]  # not s: the next add reads it too
    assert [plan.clamps[a] for a in ("add1", "add2", "add3")] == [np.inf, 6.0, np.inf]
    x = np.random.default_rng(0).standard_normal((3, *net.input_shape)).astype(np.float32)
    assert (net.activations(x, ["add1"])["add1"] < 0).any()  # asked for, the sum is not clamped


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "mobilenetv2"])
def test_shipped_networks_and_the_layers_asked_for(name):
    net = with_statistics(cnndsl.load(lesson_networks().get(name) or name).init(0))
    x = np.random.default_rng(1).standard_normal((1, *net.input_shape)).astype(np.float32)
    kept, reused = pair(net, x)
    np.testing.assert_array_equal(kept, reused)
    # a batch norm and the activation after it, asked for: both as they are, not fused over each other
    bn = next((n for n in net.layers if net.node(n).op == "batchnorm"), "conv1")
    after = next(s for s in net.graph.successors(bn))
    net.engine.forward(x, mode="eval", grad=True, keep=(bn, after))
    want = {k: v.copy() for k, v in net.engine.kept.items()}
    got = net.activations(x, [bn, after])
    for k in (bn, after):
        np.testing.assert_array_equal(got[k], want[k])
    assert (got[bn] < 0).any() and not (got[after] < 0).any()


EPILOGUES = [  # (layers, input, batch, the convolution's path) — every path, with and without a bias
    ("conv 16 3x3 pad=1; bn; relu", "16x20x20", 2, "winograd"),
    ("conv 16 3x3 pad=1 bias=false; bn; relu6", "16x100x100", 1, "winograd4"),
    ("conv 12 3x3 stride=2 pad=1; bn", "3x17x17", 3, "im2col"),       # several images a tile: the scatter
    ("conv 40 5x5 pad=2; relu", "3x30x30", 1, "im2col"),               # one image a tile: a pass after
    ("conv 24 1x1; bn; relu6", "8x9x9", 2, "pointwise"),
    ("conv 64 1x1; bn; relu", "64x32x32", 3, "pointwise"),      # chunks of images, each finished by its thread
    ("conv 32 1x1 stride=2 bias=true; bn; relu", "64x32x32", 1, "pointwise"),  # one image: a pass after
    ("conv 6 5x5 groups=2; bn; relu", "4x12x12", 2, "direct"),
    ("conv 8 3x3 pad=1 groups=8; bn; relu6", "8x10x10", 2, "depthwise"),
    ("conv 8 3x3 stride=2 pad=1 groups=8; bn; relu", "8x11x11", 2, "depthwise"),   # the phases kernel
    ("conv 6 3x3 pad=1 groups=6 bias=true; bn", "6x9x9", 1, "depthwise"),
]


@pytest.mark.parametrize("layers, shape, batch, path", EPILOGUES)
def test_a_convolution_applies_the_batch_norm_and_activation_after_it(layers, shape, batch, path):
    """At inference the batch norm and ReLU after a convolution make no pass of their own
    (kernels/conv/epilogue.py): bit for bit what the unfused layers compute, on every convolution path."""
    from cnndsl.kernels import schedule
    net = with_statistics(net_of(layers + "\nflatten\ndense 3", shape).init(2))
    conv = net.node("conv1")
    a = conv.attrs
    assert schedule.conv_algorithm(conv.params["weight"], a["stride"], a["pad"], a["dilation"], a["groups"], batch,
                                   conv.shape[1:]) == path
    plan = net.engine._plan(False, False, ())
    assert "conv1" in plan.epilogues and all(plan.fused[n] for n in net.layers[1:len(layers.split(";"))])
    x = np.random.default_rng(3).standard_normal((batch, *net.input_shape)).astype(np.float32)
    kept, reused = pair(net, x)
    np.testing.assert_array_equal(kept, reused)
