"""flatten: C×H×W → C·H·W, in C-major order (as torch.flatten(x, 1))."""

from __future__ import annotations

from .base import TorchCall, Op, Step, numel, times


class Flatten(Op):
    name = "flatten"
    family = "reshape"
    fresh_output = False  # a view of its input
    init_looks_through = True

    def torch_forward(self, a, xs, p, training):
        return xs[0].flatten(1)

    def torch_source(self, node, ins):
        return TorchCall("torch.flatten({}, 1)")

    def to_onnx(self, node, inputs, output, g):
        g.add("Flatten", inputs, output, node.name, axis=1)

    help = "C×H×W → C·H·W (a 1-D input passes through)"
    finite_forward = finite_backward = True

    def infer(self, a, ins):
        return (numel(ins[0]),)

    def explain_shape(self, a, ins, out):
        return [Step("output", times(*ins[0]), out, "every value of the map in one vector, channel by channel")]

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", "0", 0, "nothing is computed: the same numbers, read as a vector")]

    def window(self, a, ins):
        x = ins[0]
        return ((x[1], x[2]), (1, 1)) if len(x) == 3 else None

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, a, dy, shape, params, ctx):
        return [dy.reshape(shape)], {}
