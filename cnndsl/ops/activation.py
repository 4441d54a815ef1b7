"""Element-wise activations, and softmax (fused with the loss in training)."""

from __future__ import annotations

from ..kernels.lazy import kernel_module, lazy_module
from ..kernels.schedule import over_batch
from .base import Slot, TorchCall, TorchModule, Arg, Op, ShapeError, Step, fmt_shape, numel, times

np = lazy_module("numpy")
_reference = lazy_module("cnndsl.kernels.reference.elementwise")

k = kernel_module("elementwise")
_loss = kernel_module("loss")


class _Activation(Op):
    """y = f(x) element-wise; backward reads what `keeps` names ("x" or "y") to form f′."""

    family = "activation"
    fuses = True
    keeps = "y"

    def saves(self, a):
        return ("input",) if self.keeps == "x" else ("output",)

    def flops(self, a, ins, out):
        return numel(out)

    def explain_costs(self, a, ins, out):
        flops = self.flops(a, ins, out)
        return [Step("FLOPs", f"{flops // max(numel(out), 1)} · {times(*out)}" if flops else "0", flops,
                     "one operation per element" if flops else "nothing is computed")]

    inplace_ok = True

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        y = x if ctx.inplace else np.empty_like(x)  # element by element: safe over its own input
        over_batch(lambda lo, hi: self.kernel_forward(a, x[lo:hi].reshape(-1), y[lo:hi].reshape(-1)), len(x), x.size)
        return y, ((x if self.keeps == "x" else y) if ctx.keep else None)

    def stand_in_cache(self, a, xs, y):
        return xs[0] if self.keeps == "x" else y

    def reference_forward(self, a, xs, params, ctx):
        y = _reference.activation_forward(self.name, xs[0], a)
        return y, ((xs[0], y) if ctx.keep else None)

    def reference_backward(self, a, dy, saved, params, ctx):
        x, y = saved
        return [_reference.activation_backward(self.name, dy, x, y, a)], {}

    def backward(self, a, dy, saved, params, ctx):
        dx = np.empty_like(dy)
        over_batch(lambda lo, hi: self.kernel_backward(a, dy[lo:hi].reshape(-1), saved[lo:hi].reshape(-1),
                                                       dx[lo:hi].reshape(-1)), len(dy), dy.size)
        return [dx], {}


class ReLU(_Activation):
    name = "relu"
    help = "max(x, 0)"
    display = "ReLU"
    he_init = True
    finite_forward = finite_backward = True  # f′ is within [0, 1]

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.relu(xs[0])

    def torch_source(self, node, ins):
        return TorchCall("F.relu({})")

    def to_onnx(self, node, inputs, output, g):
        g.add("Relu", inputs, output, node.name)

    def kernel_forward(self, a, x, y):
        k.relu_forward(x, y)

    def kernel_backward(self, a, dy, y, dx):
        k.relu_backward(dy, y, dx)  # y > 0 exactly where x > 0


class ReLU6(_Activation):
    name = "relu6"
    help = "min(max(x, 0), 6)"
    display = "ReLU6"
    he_init = True
    finite_forward = finite_backward = True  # f′ is within [0, 1]

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.relu6(xs[0])

    def torch_source(self, node, ins):
        return TorchCall("F.relu6({})")

    def to_onnx(self, node, inputs, output, g):
        g.add("Clip", inputs + [g.constant("zero", 0.0), g.constant("six", 6.0)], output, node.name)

    def kernel_forward(self, a, x, y):
        k.relu6_forward(x, y)

    def kernel_backward(self, a, dy, y, dx):
        k.relu6_backward(dy, y, dx)  # 0 < y < 6 exactly where 0 < x < 6


class Tanh(_Activation):
    name = "tanh"
    help = "tanh(x)"
    finite_forward = finite_backward = True  # f′ is within [0, 1]
    inplace_ok = False  # its kernel vectorizes only into an array of its own (kernels/elementwise.py)

    def torch_forward(self, a, xs, p, training):
        import torch
        return torch.tanh(xs[0])

    def torch_source(self, node, ins):
        return TorchCall("torch.tanh({})")

    def to_onnx(self, node, inputs, output, g):
        g.add("Tanh", inputs, output, node.name)

    def kernel_forward(self, a, x, y):
        if x.dtype == np.float32:
            k.tanh_forward(x, y)  # within 7 ulp, vectorized
        else:
            np.tanh(x, out=y)  # float64 (gradient checks): NumPy's, within 1 ulp

    def kernel_backward(self, a, dy, y, dx):
        k.tanh_backward(dy, y, dx)


class Sigmoid(_Activation):
    name = "sigmoid"
    help = "1 / (1 + exp(-x))"
    finite_forward = finite_backward = True  # f′ is within [0, 1]

    def torch_forward(self, a, xs, p, training):
        import torch
        return torch.sigmoid(xs[0])

    def torch_source(self, node, ins):
        return TorchCall("torch.sigmoid({})")

    def to_onnx(self, node, inputs, output, g):
        g.add("Sigmoid", inputs, output, node.name)

    def kernel_forward(self, a, x, y):
        k.sigmoid_forward(x, y)

    def kernel_backward(self, a, dy, y, dx):
        k.sigmoid_backward(dy, y, dx)


class LeakyReLU(_Activation):
    name = "leakyrelu"
    help = "x if x > 0 else slope·x"
    options = (Arg("slope", "float", 0.01, "the slope for x < 0"),)
    keeps = "x"
    he_init = True  # with the gain √(2 / (1 + slope²))

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.leaky_relu(xs[0], a["slope"])

    def torch_source(self, node, ins):
        return TorchModule("nn.LeakyReLU", (Slot(node.attrs["slope"], "slope"),))

    def to_onnx(self, node, inputs, output, g):
        g.add("LeakyRelu", inputs, output, node.name, alpha=node.attrs["slope"])

    def kernel_forward(self, a, x, y):
        k.leakyrelu_forward(x, a["slope"], y)

    def kernel_backward(self, a, dy, x, dx):
        k.leakyrelu_backward(dy, x, a["slope"], dx)

    def describe(self, a):
        return f"leakyrelu {a['slope']:g}"


class Identity(_Activation):
    name = "identity"
    help = "passes its input through"
    init_looks_through = True
    finite_forward = finite_backward = True

    def torch_forward(self, a, xs, p, training):
        return xs[0]

    def flops(self, a, ins, out):
        return 0

    def torch_source(self, node, ins):
        return TorchCall("{}")

    def to_onnx(self, node, inputs, output, g):
        g.add("Identity", inputs, output, node.name)

    fresh_output = False

    def forward(self, a, xs, params, ctx):
        return xs[0], None

    def stand_in_cache(self, a, xs, y):
        return None  # nothing is kept, and backward has no kernel to compile

    def backward(self, a, dy, saved, params, ctx):
        return [dy], {}


class Softmax(Op):
    name = "softmax"
    family = "output"
    help = "exp(x) / Σ exp(x) over features; a trailing softmax is fused with the loss in training"

    def infer(self, a, ins):
        (x,) = ins
        if len(x) != 1:
            raise ShapeError(f"`softmax` needs a 1-D input, got {fmt_shape(x)}", "add `flatten` (or `gap; flatten`)")
        return x

    def flops(self, a, ins, out):
        return 3 * numel(out)

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", f"3 · {out[0]}", self.flops(a, ins, out), "an exponential, a sum and a division per element")]

    def saves(self, a):
        return ("output",)

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.softmax(xs[0], dim=1)

    def torch_source(self, node, ins):
        return TorchCall("F.softmax({}, dim=1)")

    def to_onnx(self, node, inputs, output, g):
        g.add("Softmax", inputs, output, node.name, axis=1)

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        y = np.empty_like(x)
        _loss.softmax_forward(x, y)
        return y, (y if ctx.keep else None)

    def stand_in_cache(self, a, xs, y):
        return y

    def reference_forward(self, a, xs, params, ctx):
        y = _reference.softmax_forward(xs[0]).astype(xs[0].dtype)
        return y, (y if ctx.keep else None)

    def reference_backward(self, a, dy, y, params, ctx):
        return [_reference.softmax_backward(dy, y)], {}

    def backward(self, a, dy, y, params, ctx):
        dx = np.empty_like(dy)
        _loss.softmax_backward(dy, y, dx)
        return [dx], {}
