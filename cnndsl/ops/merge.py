"""Merges: concat along channels, element-wise add (skip connections) and element-wise mul (gates)."""

from __future__ import annotations

from ..kernels.lazy import kernel_module, lazy_module
from ..kernels.schedule import over_batch
from .base import TorchCall, Op, ShapeError, Step, fmt_shape, numel, times

np = lazy_module("numpy")
_elementwise = kernel_module("elementwise")


class Concat(Op):
    name = "concat"
    statement = "merge"
    family = "merge"
    help = "concatenates its inputs along channels; all must agree on H×W"
    finite_forward = finite_backward = True

    def infer(self, a, ins):
        rest = {x[1:] for x in ins}
        if len(rest) > 1:
            shapes = ", ".join(fmt_shape(x) for x in ins)
            raise ShapeError(f"`concat` inputs disagree on H×W: {shapes}",
                             "every branch must keep the same spatial size (check strides and padding)")
        return (sum(x[0] for x in ins),) + ins[0][1:]

    def explain_shape(self, a, ins, out):
        return [Step("channels", " + ".join(str(x[0]) for x in ins), out[0], "the inputs stacked along the channels"),
                Step("output", fmt_shape(out), out, "every input keeps its height and width")]

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", "0", 0, "nothing is computed: the maps are laid side by side")]

    def forward(self, a, xs, params, ctx):
        return np.concatenate(xs, axis=1), [x.shape[1] for x in xs]

    def torch_forward(self, a, xs, p, training):
        import torch
        return torch.cat(xs, dim=1)

    def torch_source(self, node, ins):
        return TorchCall("torch.cat([{}], dim=1)")

    def to_onnx(self, node, inputs, output, g):
        g.add("Concat", inputs, output, node.name, axis=1)

    def backward(self, a, dy, sizes, params, ctx):
        bounds = np.cumsum([0] + sizes)
        return [np.ascontiguousarray(dy[:, lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])], {}


class Add(Op):
    name = "add"
    statement = "merge"
    family = "merge"
    help = "element-wise sum; all inputs must have the same shape"

    def infer(self, a, ins):
        if len(set(ins)) > 1:
            shapes = ", ".join(fmt_shape(x) for x in ins)
            raise ShapeError(f"`add` inputs have different shapes: {shapes}",
                             "project the skip with a 1x1 conv so the shapes agree")
        return ins[0]

    def flops(self, a, ins, out):
        return (len(ins) - 1) * numel(out)

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", f"{len(ins) - 1} · {times(*out)}", self.flops(a, ins, out),
                     "one add per element for each input after the first")]

    def forward(self, a, xs, params, ctx):
        """Two inputs (a skip connection): one pass over the cores, with the ReLU or ReLU6 after the sum
        applied as it writes where the engine fused it (inference); more: NumPy's sums."""
        top = ctx.fuse_clamp if not ctx.training and not ctx.keep else None
        if len(xs) == 2 and all(x.flags.c_contiguous and x.dtype == xs[0].dtype for x in xs):
            x0, x1 = xs
            y = np.empty_like(x0)
            f = x0.dtype.type
            lo, hi = (f(0), f(top)) if top is not None else (f(-np.inf), f(np.inf))
            over_batch(lambda i, e: _elementwise.add_forward(x0[i:e].reshape(-1), x1[i:e].reshape(-1), lo, hi,
                                                             y[i:e].reshape(-1)), len(y), y.size)
            return y, 2
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y += x
        if top is not None:
            np.clip(y, 0, top, out=y)
        return y, len(xs)

    def backward(self, a, dy, count, params, ctx):
        return [dy] * count, {}

    def torch_forward(self, a, xs, p, training):
        out = xs[0]
        for other in xs[1:]:
            out = out + other
        return out

    def torch_source(self, node, ins):
        return TorchCall("{}", " + ", binary=True)

    def to_onnx(self, node, inputs, output, g):
        _chain("Add", node, inputs, output, g)


class Mul(Op):
    name = "mul"
    statement = "merge"
    family = "merge"
    display = "⊗ mul"
    help = ("element-wise product; a C×1×1 input (a squeeze-and-excitation gate) broadcasts over a C×H×W "
            "one, as in NumPy")

    def infer(self, a, ins):
        out = ins[0]
        for x in ins[1:]:
            if len(x) != len(out) or any(d != e and 1 not in (d, e) for d, e in zip(x, out)):
                shapes = ", ".join(fmt_shape(s) for s in ins)
                raise ShapeError(f"`mul` inputs do not broadcast: {shapes}",
                                 "each dimension must agree or be 1 (a C×1×1 gate times a C×H×W map)")
            out = tuple(max(d, e) for d, e in zip(x, out))
        return out

    def flops(self, a, ins, out):
        return (len(ins) - 1) * numel(out)

    def explain_shape(self, a, ins, out):
        return [Step("output", " ⊗ ".join(fmt_shape(x) for x in ins), out,
                     "a dimension of 1 is repeated to match the other input's")]

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", f"{len(ins) - 1} · {times(*out)}", self.flops(a, ins, out),
                     "one multiplication per output element for each input after the first")]

    def saves(self, a):
        return ("input",)

    def torch_forward(self, a, xs, p, training):
        out = xs[0]
        for other in xs[1:]:
            out = out * other
        return out

    def torch_source(self, node, ins):
        return TorchCall("{}", " * ", binary=True)

    def to_onnx(self, node, inputs, output, g):
        _chain("Mul", node, inputs, output, g)

    def forward(self, a, xs, params, ctx):
        y = xs[0] * xs[1]
        for x in xs[2:]:
            y = y * x
        return y, (list(xs) if ctx.keep else None)

    def backward(self, a, dy, xs, params, ctx):
        """∂y/∂xᵢ = Π of the others; summed over the axes xᵢ was broadcast along."""
        grads = []
        for i, x in enumerate(xs):
            g = dy
            for j, other in enumerate(xs):
                if j != i:
                    g = g * other
            axes = tuple(k for k in range(1, g.ndim) if x.shape[k] == 1 and g.shape[k] != 1)
            grads.append(np.ascontiguousarray(g.sum(axis=axes, keepdims=True) if axes else g, dtype=dy.dtype))
        return grads, {}


class Input(Op):
    name = "input"
    statement = "input"
    family = "io"
    help = "the network's input, C×H×W (the batch is implicit)"


def _chain(op_type: str, node, inputs: list[str], output: str, g) -> None:
    """An n-ary Add or Mul as a chain of binary ones (ONNX's are binary); the last one is named `output`."""
    current = inputs[0]
    for k, other in enumerate(inputs[1:], 1):
        last = k == len(inputs) - 1
        current = g.add(op_type, [current, other], output if last else f"{output}.{k}", node.name if last else f"{node.name}.{k}")

