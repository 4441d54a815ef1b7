"""Whole networks against PyTorch holding the same weights: forward and every gradient, relative
error < 1e-4 (cnndsl computes in float32, PyTorch here in float64)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402

from ..torch_oracle import rel_err, run  # noqa: E402

STAGE = """network Stage
input 16x16x16
block down(ch) {
  residual {
    conv ch 3x3 stride=2 pad=1 bias=false; bn; relu
    conv ch 3x3 pad=1 bias=false; bn
  } shortcut {
    conv ch 1x1 stride=2 bias=false; bn
  }
  relu
}
block basic(ch) {
  residual { conv ch 3x3 pad=1 bias=false; bn; relu; conv ch 3x3 pad=1 bias=false; bn }
  relu
}
down(32)
basic(32)
gap
flatten
fc 10
"""

INCEPTION = """network Inception
input 24x12x12
block inception(c1, c3r, c3, c5r, c5, pp) {
  concat {
    branch { conv c1 1x1; relu }
    branch { conv c3r 1x1; relu; conv c3 3x3 pad=1; relu }
    branch { conv c5r 1x1; relu; conv c5 5x5 pad=2; relu }
    branch { maxpool 3x3 stride=1 pad=1; conv pp 1x1; relu }
  }
}
inception(8, 6, 12, 2, 4, 4)
maxpool 3x3 stride=2 ceil=true
gap; flatten; dense 5; softmax
"""

DENSENET = """network Dense
input 8x10x10
repeat 3 { concat { branch {} branch { bn; relu; conv 4 3x3 pad=1 } } }
bn; relu
avgpool 2x2 stride=2
flatten
dense 6
"""

LABELS = """network Labels
input 6x11x11
stem: conv 8 3x3 pad=1
leakyrelu slope=0.1
a: conv 8 3x3 pad=1
b: sigmoid
from @stem
conv 8 3x3 dilation=2 pad=2; relu6
add @a @b
concat @stem
tanh
avgpool 3x3 stride=2 pad=1
conv 6 3x3 groups=2
flatten
dense 7
"""

ALEXNET_SMALL = """network AlexNetSmall
input 3x67x67
conv 48 11x11 stride=4; relu
lrn size=5 alpha=1e-4 beta=0.75 k=2
maxpool 3x3 stride=2
conv 64 5x5 pad=2 groups=2; relu
lrn size=5 alpha=1e-4 beta=0.75 k=2
maxpool 3x3 stride=2
conv 96 3x3 pad=1; relu
conv 96 3x3 pad=1 groups=2; relu
conv 64 3x3 pad=1 groups=2; relu
flatten
dense 128; relu
dropout 0.5
dense 10
softmax
"""

CASES = {"lenet5": None, "stage": STAGE, "inception": INCEPTION, "densenet": DENSENET, "labels": LABELS,
         "alexnet_small": ALEXNET_SMALL}


def network(case):
    text = CASES[case]
    return cnndsl.load(case) if text is None else cnndsl.parse(text, f"{case}.cnn")


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_every_gradient_match_torch(case, mode):
    if mode == "train" and "dropout" in (CASES[case] or ""):
        pytest.skip("dropout masks differ between libraries; its kernel is tested on its own")
    net = network(case).init(seed=3)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3,) + net.input_shape).astype(np.float32)
    start = {k: v.copy() for k, v in net.buffers.items()}
    y = net.forward(x, mode=mode)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = net.backward(dy)
    updated = {k: v.copy() for k, v in net.buffers.items()}
    for k, v in start.items():  # PyTorch starts from the same running statistics
        net.engine.state[k.rsplit(".", 1)[0]][k.rsplit(".", 1)[1]][...] = v
    y_ref, dx_ref, grads_ref, buffers_ref = run(net, x.astype(np.float64), dy.astype(np.float64), mode)
    assert rel_err(y, y_ref) < 1e-4
    assert rel_err(dx, dx_ref) < 1e-4
    grads = net.grads
    assert set(grads) == set(grads_ref) and grads
    for key, ref in grads_ref.items():
        assert rel_err(grads[key], ref) < 1e-4, key
    for key, ref in buffers_ref.items():  # running statistics updated (train) or left alone (eval) alike
        assert rel_err(updated[key], ref) < 1e-4, key
