"""dropout: zero each activation with probability p in training, scaling the rest by 1/(1−p)."""

from __future__ import annotations

from ..kernels.lazy import lazy_module
from .base import Slot, TorchModule, Arg, Op

np = lazy_module("numpy")


class Dropout(Op):
    name = "dropout"
    family = "regularization"
    help = "zeroes activations with probability p in training; identity at inference"
    positional = (Arg("p", "prob", help="drop probability"),)

    init_looks_through = True

    def saves(self, a):
        return ("extra",) if a["p"] > 0 else ()

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.dropout(xs[0], a["p"], training)

    def torch_source(self, node, ins):
        return TorchModule("nn.Dropout", (Slot(node.attrs["p"], "p"),))

    def to_onnx(self, node, inputs, output, g):
        g.add("Identity", inputs, output, node.name)  # the inference graph: dropout passes its input on

    def describe(self, a):
        return f"dropout {a['p']:g}"

    fresh_output = False  # at inference it passes its input on

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        if not ctx.training or a["p"] == 0:
            return x, None
        keep = ctx.rng.random(x.shape, dtype=np.float32) >= a["p"]
        mask = keep.astype(x.dtype) / x.dtype.type(1 - a["p"])
        return x * mask, mask

    def backward(self, a, dy, mask, params, ctx):
        return [dy if mask is None else dy * mask], {}
