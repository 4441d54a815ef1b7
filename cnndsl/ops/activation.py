"""Element-wise activations, and softmax (fused with the loss in training)."""

from __future__ import annotations

from .base import Arg, Op, ShapeError, fmt_shape, numel


class _Activation(Op):
    family = "activation"
    fuses = True

    def flops(self, a, ins, out):
        return numel(out)


class ReLU(_Activation):
    name = "relu"
    help = "max(x, 0)"


class ReLU6(_Activation):
    name = "relu6"
    help = "min(max(x, 0), 6)"


class Tanh(_Activation):
    name = "tanh"
    help = "tanh(x)"


class Sigmoid(_Activation):
    name = "sigmoid"
    help = "1 / (1 + exp(-x))"


class LeakyReLU(_Activation):
    name = "leakyrelu"
    help = "x if x > 0 else slope·x"
    options = (Arg("slope", "float", 0.01),)

    def describe(self, a):
        return f"leakyrelu {a['slope']:g}"


class Identity(_Activation):
    name = "identity"
    help = "passes its input through"

    def flops(self, a, ins, out):
        return 0


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
