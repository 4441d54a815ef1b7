"""conv: 2-D convolution (cross-correlation, as in PyTorch), with stride, padding, dilation and groups."""

from __future__ import annotations

from ..kernels import schedule
from ..kernels.lazy import kernel_module, lazy_module
from .base import (Slot, TorchModule, Arg, ArgError, Attrs, Op, ShapeError, Step, fmt_shape, fmt_size, needs_image, numel, times,
                   window_out, window_steps)

_reference = lazy_module("cnndsl.kernels.reference.conv")

_conv = kernel_module("conv")


def _out_hw(a: Attrs, x_shape) -> tuple[int, int]:
    return tuple(window_out(n, k, s, p, d) for n, k, s, p, d in
                 zip(x_shape[2:], a["kernel"], a["stride"], a["pad"], a["dilation"]))


def resolve_pad(a: Attrs, op: str) -> Attrs:
    """`same` pads so that stride 1 keeps H×W (out = ceil(in/stride)); `valid` is no padding."""
    if a["pad"] == "valid":
        a["pad"] = (0, 0)
    elif a["pad"] == "same":
        dil = a.get("dilation", (1, 1))
        span = [d * (k - 1) for d, k in zip(dil, a["kernel"])]
        if any(s % 2 for s in span):
            raise ArgError(f"`pad=same` with the {fmt_size(a['kernel'])} kernel of `{op}` needs uneven padding",
                           "pad", "give the padding explicitly, e.g. pad=1")
        a["pad"] = (span[0] // 2, span[1] // 2)
    return a


class Conv(Op):
    name = "conv"
    family = "conv"
    help = "2-D convolution (cross-correlation, as in PyTorch) with stride, padding, dilation and groups"
    positional = (Arg("out_channels", "int", help="output channels"), Arg("kernel", "size", help="kernel size"))
    options = (
        Arg("stride", "size", 1),
        Arg("pad", "pad", 0),
        Arg("dilation", "size", 1),
        Arg("groups", "int", 1),
        Arg("bias", "bool", True),
    )

    parameters = "W[out, in/groups, kh, kw] (+ b[out])"

    def saves(self, a):
        return ("input",)

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.conv2d(xs[0], p["weight"], p.get("bias"), a["stride"], a["pad"], a["dilation"], a["groups"])

    def torch_source(self, node, ins):
        a = node.attrs
        return TorchModule("nn.Conv2d", (
            Slot(ins[0][0], "in"), Slot(a["out_channels"], "out_channels"), Slot(a["kernel"], "kernel"),
            Slot(a["stride"], "stride", "stride", (1, 1)), Slot(a["pad"], "pad", "padding", (0, 0)),
            Slot(a["dilation"], "dilation", "dilation", (1, 1)), Slot(a["groups"], "groups", "groups", 1),
            Slot(a["bias"], "bias", "bias", True)))

    def to_onnx(self, node, inputs, output, g):
        a = node.attrs
        ins = inputs + [g.weight(f"{node.name}.weight")] + ([g.weight(f"{node.name}.bias")] if a["bias"] else [])
        g.add("Conv", ins, output, node.name, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
              pads=[a["pad"][0], a["pad"][1], a["pad"][0], a["pad"][1]], dilations=list(a["dilation"]),
              group=a["groups"])

    def workspace(self, node, batch, threads, grad):
        """Each thread's column tiles (within the kernels' budget), or Winograd's transformed filters."""
        w, a = node.params["weight"], node.attrs
        algorithm = schedule.conv_algorithm(w, a["stride"], a["pad"], a["dilation"], a["groups"], batch, node.shape[1:])
        tiles = threads * (schedule.WORKSPACE if grad else schedule.WINOGRAD_FORWARD_WORKSPACE)  # backward's, if any
        if algorithm == "winograd":
            return 16 * w[0] * w[1] * ((threads + 1) if grad else 1) + tiles
        if algorithm == "winograd4":  # forward's 6×6 transforms; backward's are F(2×2, 3×3)'s
            return max(36, 16 * (threads + 1) if grad else 0) * w[0] * w[1] + tiles
        if algorithm == "pointwise" and tuple(a["stride"]) != (1, 1):  # the sampled input (and dx's products)
            return w[1] * node.shape[1] * node.shape[2] * batch * (2 if grad else 1)
        if algorithm in ("pointwise", "depthwise"):
            return 0
        if algorithm == "direct" and not grad and tuple(a["pad"]) == (0, 0):
            return 0  # the taps read the input itself: no padded copy
        budget = schedule.FLAT_WORKSPACE if algorithm == "direct" else schedule.WORKSPACE
        k, (oh, ow) = w[1] * w[2] * w[3], node.shape[1:]
        columns = max(budget // k, ow)  # a tile's columns, as schedule.tiles cuts them
        if oh * ow <= columns:  # whole images per tile
            columns = oh * ow * min(max(1, columns // (oh * ow)), -(-batch // threads))
        return k * columns * min(threads, batch) * (2 if grad else 1)

    def resolve(self, args, options):
        a = resolve_pad(super().resolve(args, options), self.name)
        if a["out_channels"] % a["groups"]:
            raise ArgError(f"{a['out_channels']} output channels do not split into {a['groups']} groups", "groups")
        return a

    def infer(self, a, ins):
        (x,) = ins
        needs_image(self, x)
        c, h, w = x
        if c % a["groups"]:
            raise ShapeError(f"{c} input channels do not split into {a['groups']} groups",
                             "groups must divide both the input and the output channels")
        oh, ow = (window_out(n, k, s, p, d) for n, k, s, p, d in
                  zip((h, w), a["kernel"], a["stride"], a["pad"], a["dilation"]))
        if oh < 1 or ow < 1:
            raise ShapeError(f"the {fmt_size(a['kernel'])} kernel does not fit the {fmt_shape(x)} input",
                             "reduce the kernel or the striding before it, or pad the input")
        return (a["out_channels"], oh, ow)

    def param_shapes(self, a, ins):
        kh, kw = a["kernel"]
        shapes = {"weight": (a["out_channels"], ins[0][0] // a["groups"], kh, kw)}
        if a["bias"]:
            shapes["bias"] = (a["out_channels"],)
        return shapes

    def macs(self, a, ins, out):
        kh, kw = a["kernel"]
        return numel(out) * (ins[0][0] // a["groups"]) * kh * kw

    def flops(self, a, ins, out):
        return 2 * self.macs(a, ins, out) + (numel(out) if a["bias"] else 0)

    def explain_shape(self, a, ins, out):
        return window_steps(ins[0][1:], a["kernel"], a["stride"], a["pad"], a["dilation"], False, out[1:]) + [
            Step("channels", str(a["out_channels"]), out[0], "one output channel per filter")]

    def explain_costs(self, a, ins, out):
        f, oh, ow = out
        cg, (kh, kw) = ins[0][0] // a["groups"], a["kernel"]
        macs = self.macs(a, ins, out)
        per = f"{ins[0][0]}/{a['groups']}" if a["groups"] > 1 else str(cg)
        steps = [Step("MACs", f"{times(f, oh, ow)} · {times(per if a['groups'] > 1 else cg, kh, kw)}", macs,
                      f"each of the {f}·{oh}·{ow} outputs is one multiply-add per weight of its filter"
                      + (f" ({per} = {cg} input channels per group)" if a["groups"] > 1 else ""))]
        bias = f" + {times(f, oh, ow)}" if a["bias"] else ""
        return steps + [Step("FLOPs", f"2·{macs:,}{bias}", self.flops(a, ins, out),
                             "a multiply and an add per MAC" + (", and one bias add per output" if bias else ""))]

    def window(self, a, ins):
        k = tuple(d * (k - 1) + 1 for d, k in zip(a["dilation"], a["kernel"]))
        return k, a["stride"]

    def forward(self, a, xs, params, ctx, kernels=_conv):
        """kernels: the fast tier (kernels/conv/) or, from reference_forward, kernels/reference/conv.py."""
        (x,) = xs
        extra = {"epilogue": ctx.epilogue} if ctx.epilogue is not None else {}
        y = kernels.conv_forward(x, params["weight"], params.get("bias"), a["stride"], a["pad"], a["dilation"],
                                 a["groups"], _out_hw(a, x.shape), **extra)
        return y, (x if ctx.keep else None)

    def stand_in_cache(self, a, xs, y):
        return xs[0]

    def reference_forward(self, a, xs, params, ctx):
        return self.forward(a, xs, params, ctx, kernels=_reference)

    def reference_backward(self, a, dy, x, params, ctx):
        dx, dw, db = _reference.conv_backward(dy, x, params["weight"], a["bias"], a["stride"], a["pad"],
                                              a["dilation"], a["groups"])
        return [dx if ctx.need_dx else None], ({"weight": dw, "bias": db} if a["bias"] else {"weight": dw})

    def backward(self, a, dy, x, params, ctx):
        dx, dw, db = _conv.conv_backward(dy, x, params["weight"], a["bias"], a["stride"], a["pad"], a["dilation"],
                                   a["groups"], ctx.need_dx)
        return [dx], ({"weight": dw, "bias": db} if a["bias"] else {"weight": dw})

    def describe(self, a):
        text = f"conv {a['out_channels']} {fmt_size(a['kernel'])}"
        if a["stride"] != (1, 1):
            text += f" /{a['stride'][0] if a['stride'][0] == a['stride'][1] else fmt_size(a['stride'])}"
        if a["dilation"] != (1, 1):
            text += f" dil {a['dilation'][0]}"
        if a["groups"] != 1:
            text += f" g{a['groups']}"
        return text
