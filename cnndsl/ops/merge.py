"""Merges: concat along channels, and element-wise add (skip connections)."""

from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, fmt_shape, numel


class Concat(Op):
    name = "concat"
    family = "merge"
    variadic = True
    help = "concatenates its inputs along channels; all must agree on H×W"
    finite_forward = finite_backward = True

    def infer(self, a, ins):
        rest = {x[1:] for x in ins}
        if len(rest) > 1:
            shapes = ", ".join(fmt_shape(x) for x in ins)
            raise ShapeError(f"`concat` inputs disagree on H×W: {shapes}",
                             "every branch must keep the same spatial size (check strides and padding)")
        return (sum(x[0] for x in ins),) + ins[0][1:]

    def forward(self, a, xs, params, ctx):
        return np.concatenate(xs, axis=1), [x.shape[1] for x in xs]

    def backward(self, a, dy, sizes, params, ctx):
        bounds = np.cumsum([0] + sizes)
        return [np.ascontiguousarray(dy[:, lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])], {}


class Add(Op):
    name = "add"
    family = "merge"
    variadic = True
    help = "element-wise sum; all inputs must have the same shape"

    def infer(self, a, ins):
        if len(set(ins)) > 1:
            shapes = ", ".join(fmt_shape(x) for x in ins)
            raise ShapeError(f"`add` inputs have different shapes: {shapes}",
                             "project the skip with a 1x1 conv so the shapes agree")
        return ins[0]

    def flops(self, a, ins, out):
        return (len(ins) - 1) * numel(out)

    def forward(self, a, xs, params, ctx):
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y += x
        return y, len(xs)

    def backward(self, a, dy, count, params, ctx):
        return [dy] * count, {}


class Input(Op):
    name = "input"
    family = "io"
    help = "the network's input, C×H×W (the batch is implicit)"
