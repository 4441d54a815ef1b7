"""Normalization: local response normalization (AlexNet) and batch normalization."""

from __future__ import annotations

from .base import Arg, Op, ShapeError, fmt_shape, needs_image, numel


class LRN(Op):
    name = "lrn"
    family = "norm"
    help = "b = a / (k + alpha·Σ a²)^beta over `size` neighbouring channels (the AlexNet paper: alpha not divided by size)"
    options = (
        Arg("size", "int", 5),
        Arg("alpha", "float", 1e-4),
        Arg("beta", "float", 0.75),
        Arg("k", "float", 2.0),
    )

    def infer(self, a, ins):
        needs_image(self, ins[0])
        return ins[0]

    def flops(self, a, ins, out):
        return numel(out) * (2 * a["size"] + 3)

    def describe(self, a):
        return f"lrn {a['size']}"


class BatchNorm(Op):
    name = "batchnorm"
    aliases = ("bn",)
    family = "norm"
    fuses = True
    help = "normalize each channel by batch statistics (running statistics at inference), then gamma·x + beta"
    options = (Arg("eps", "float", 1e-5), Arg("momentum", "float", 0.1))

    def infer(self, a, ins):
        if len(ins[0]) not in (1, 3):
            raise ShapeError(f"`batchnorm` needs a C×H×W or 1-D input, got {fmt_shape(ins[0])}")
        return ins[0]

    def param_shapes(self, a, ins):
        return {"weight": (ins[0][0],), "bias": (ins[0][0],)}

    def state_shapes(self, a, ins):
        return {"running_mean": (ins[0][0],), "running_var": (ins[0][0],)}

    def flops(self, a, ins, out):
        return 2 * numel(out)

    def describe(self, a):
        return "bn"
