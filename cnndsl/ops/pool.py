"""Pooling: maxpool and avgpool over windows (overlapping when stride < kernel), and global average pooling."""

from __future__ import annotations

from ..kernels.lazy import kernel_module, lazy_module
from ..kernels.schedule import over_batch
from .base import (Slot, TorchCall, TorchModule, SAME_AS_KERNEL, Arg, Op, ShapeError, Step, fmt_shape, fmt_size, needs_image, numel, times,
                   window_out, window_steps)
from .conv import resolve_pad

np = lazy_module("numpy")
_reference = lazy_module("cnndsl.kernels.reference.pool")

_pool = kernel_module("pool")


class _Pool(Op):
    family = "pool"
    positional = (Arg("kernel", "size", help="window size"),)
    options = (
        Arg("stride", "size", SAME_AS_KERNEL),
        Arg("pad", "pad", 0),
        Arg("ceil", "bool", False),
    )

    def resolve(self, args, options):
        return resolve_pad(super().resolve(args, options), self.name)

    def infer(self, a, ins):
        (x,) = ins
        needs_image(self, x)
        c, h, w = x
        for k, p in zip(a["kernel"], a["pad"]):
            if p > k // 2:
                raise ShapeError(f"padding {p} is more than half the {fmt_size(a['kernel'])} window",
                                 "PyTorch allows at most kernel//2 padding in pooling")
        oh, ow = (window_out(n, k, s, p, ceil=a["ceil"]) for n, k, s, p in
                  zip((h, w), a["kernel"], a["stride"], a["pad"]))
        if oh < 1 or ow < 1:
            raise ShapeError(f"the {fmt_size(a['kernel'])} window does not fit the {fmt_shape(x)} input",
                             "use a smaller window, or `gap` to pool everything")
        return (c, oh, ow)

    def flops(self, a, ins, out):
        return numel(out) * a["kernel"][0] * a["kernel"][1]

    def explain_shape(self, a, ins, out):
        return window_steps(ins[0][1:], a["kernel"], a["stride"], a["pad"], (1, 1), a["ceil"], out[1:]) + [
            Step("channels", str(ins[0][0]), out[0], "each channel is pooled on its own")]

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", f"{times(*out)} · {times(*a['kernel'])}", self.flops(a, ins, out),
                     "each output reads its window: one comparison or add per element; no weights, no MACs")]

    def window(self, a, ins):
        return a["kernel"], a["stride"]

    def describe(self, a):
        text = f"{self.name} {fmt_size(a['kernel'])}"
        if a["stride"] != a["kernel"]:
            s = a["stride"]
            text += f" /{s[0] if s[0] == s[1] else fmt_size(s)}"
        return text


    def out_shape(self, a, x):
        return tuple(window_out(n, k, s, p, ceil=a["ceil"]) for n, k, s, p in
                     zip(x.shape[2:], a["kernel"], a["stride"], a["pad"]))


class MaxPool(_Pool):
    name = "maxpool"
    help = "max over each window; stride defaults to the kernel"
    finite_forward = True  # a selection (backward sums overlapping windows' gradients: checked)

    def saves(self, a):
        return ("extra",)

    def reference_forward(self, a, xs, params, ctx):
        y, where = _reference.maxpool_forward(xs[0], a["kernel"], a["stride"], a["pad"], self.out_shape(a, xs[0]))
        return y, ((where, xs[0].shape) if ctx.keep else None)

    def reference_backward(self, a, dy, cache, params, ctx):
        where, shape = cache
        return [_reference.maxpool_backward(dy, where, shape, a["pad"])], {}

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.max_pool2d(xs[0], a["kernel"], a["stride"], a["pad"], ceil_mode=a["ceil"])

    def torch_source(self, node, ins):
        return TorchModule("nn.MaxPool2d", _torch_window(node.attrs))

    def to_onnx(self, node, inputs, output, g):
        g.add("MaxPool", inputs, output, node.name, **_onnx_window(node, g))

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        y = np.empty(x.shape[:2] + self.out_shape(a, x), dtype=x.dtype)
        if not ctx.keep and (a["kernel"], a["stride"][1]) != ((2, 2), 2):  # nothing goes backward: no argmax
            # (2×2 windows of stride 2 run as fast with it, in the kernel training compiles anyway)
            over_batch(lambda lo, hi: _pool.maxpool_values(x[lo:hi], *a["kernel"], *a["stride"], *a["pad"], y[lo:hi]),
                       len(x), x.size)
            return y, None
        arg = np.empty(y.shape, dtype=np.int32)
        over_batch(lambda lo, hi: _pool.maxpool_forward(x[lo:hi], *a["kernel"], *a["stride"], *a["pad"], y[lo:hi],
                                                  arg[lo:hi]), len(x), x.size)
        return y, ((arg, x.shape) if ctx.keep else None)

    def stand_in_cache(self, a, xs, y):
        return np.zeros(y.shape, dtype=np.int32), xs[0].shape

    def backward(self, a, dy, cache, params, ctx):
        arg, shape = cache
        dx = np.zeros(shape, dtype=dy.dtype)
        over_batch(lambda lo, hi: _pool.maxpool_backward(dy[lo:hi], arg[lo:hi], dx[lo:hi]), len(dx), dx.size)
        return [dx], {}


class AvgPool(_Pool):
    name = "avgpool"
    help = "mean over each window (padded zeros count, as in PyTorch); stride defaults to the kernel"

    def reference_forward(self, a, xs, params, ctx):
        y = _reference.avgpool_forward(xs[0], a["kernel"], a["stride"], a["pad"], self.out_shape(a, xs[0]))
        return y, (xs[0].shape if ctx.keep else None)

    def reference_backward(self, a, dy, shape, params, ctx):
        return [_reference.avgpool_backward(dy, shape, a["kernel"], a["stride"], a["pad"])], {}

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.avg_pool2d(xs[0], a["kernel"], a["stride"], a["pad"], ceil_mode=a["ceil"], count_include_pad=True)

    def torch_source(self, node, ins):
        return TorchModule("nn.AvgPool2d", _torch_window(node.attrs))

    def to_onnx(self, node, inputs, output, g):
        g.add("AveragePool", inputs, output, node.name, count_include_pad=1, **_onnx_window(node, g))

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        y = np.empty(x.shape[:2] + self.out_shape(a, x), dtype=x.dtype)
        if self.tiled(a, x.shape, y.shape):
            if a["kernel"] == (2, 2):  # LeNet's: the four taps spelled out (4–7× the general loop)
                over_batch(lambda lo, hi: _pool.avg2x2_forward(x[lo:hi], y[lo:hi]), len(x), x.size)
            else:
                over_batch(lambda lo, hi: _pool.avgpool_tiled_forward(x[lo:hi], *a["kernel"], y[lo:hi]), len(x),
                           x.size)
        else:
            over_batch(lambda lo, hi: _pool.avgpool_forward(x[lo:hi], *a["kernel"], *a["stride"], *a["pad"], y[lo:hi]),
                       len(x), x.size)
        return y, (x.shape if ctx.keep else None)

    def stand_in_cache(self, a, xs, y):
        return xs[0].shape

    def backward(self, a, dy, shape, params, ctx):
        if self.tiled(a, shape, dy.shape):
            dx = np.empty(shape, dtype=dy.dtype)
            if a["kernel"] == (2, 2):
                over_batch(lambda lo, hi: _pool.avg2x2_backward(dy[lo:hi], dx[lo:hi]), len(dx), dx.size)
            else:
                over_batch(lambda lo, hi: _pool.avgpool_tiled_backward(dy[lo:hi], *a["kernel"], dx[lo:hi]),
                           len(dx), dx.size)
            return [dx], {}
        dx = np.zeros(shape, dtype=dy.dtype)
        over_batch(lambda lo, hi: _pool.avgpool_backward(dy[lo:hi], *a["kernel"], *a["stride"], *a["pad"], dx[lo:hi]),
                   len(dx), dx.size)
        return [dx], {}

    @staticmethod
    def tiled(a, x_shape, y_shape) -> bool:
        """Windows that tile the input without overlap, padding or partial windows (LeNet's)."""
        (kh, kw), (oh, ow) = a["kernel"], y_shape[2:]
        return (a["stride"] == a["kernel"] and a["pad"] == (0, 0)
                and oh * kh <= x_shape[2] and ow * kw <= x_shape[3])


class _GlobalPool(Op):
    """C×H×W → C×1×1: one value per channel, over a window as large as the map."""

    family = "pool"

    def infer(self, a, ins):
        (x,) = ins
        needs_image(self, x)
        return (x[0], 1, 1)

    def flops(self, a, ins, out):
        return numel(ins[0])

    def explain_shape(self, a, ins, out):
        return [Step("output", f"{ins[0][0]}×1×1", out, "one value per channel, from a window as large as the map")]

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", times(*ins[0]), self.flops(a, ins, out), "one operation per input element")]

    def window(self, a, ins):
        return (ins[0][1], ins[0][2]), (1, 1)


class GlobalAvgPool(_GlobalPool):
    name = "globalavgpool"
    aliases = ("gap",)
    help = "mean over all of H×W: C×H×W → C×1×1"

    def torch_forward(self, a, xs, p, training):
        return xs[0].mean(dim=(2, 3), keepdim=True)

    def torch_source(self, node, ins):
        return TorchCall("F.adaptive_avg_pool2d({}, 1)")

    def to_onnx(self, node, inputs, output, g):
        g.add("GlobalAveragePool", inputs, output, node.name)

    def reference_forward(self, a, xs, params, ctx):
        return _reference.global_avg_forward(xs[0]), (xs[0].shape if ctx.keep else None)

    def reference_backward(self, a, dy, shape, params, ctx):
        return [_reference.global_avg_backward(dy, shape)], {}


    def forward(self, a, xs, params, ctx):
        (x,) = xs
        n, c = x.shape[:2]
        y = np.empty((n, c), dtype=x.dtype)
        _pool.gap_forward(x.reshape(n, c, -1), y)
        return y.reshape(n, c, 1, 1), (x.shape if ctx.keep else None)

    def backward(self, a, dy, shape, params, ctx):
        dx = np.empty(shape, dtype=dy.dtype)
        _pool.gap_backward(dy.reshape(shape[:2]), dx.reshape(shape[0], shape[1], -1))
        return [dx], {}

    def describe(self, a):
        return "global avgpool"


class GlobalMaxPool(_GlobalPool):
    name = "globalmaxpool"
    aliases = ("gmp",)
    help = "max over all of H×W: C×H×W → C×1×1"
    finite_forward = True  # a selection


    def saves(self, a):
        return ("extra",)

    def describe(self, a):
        return "global maxpool"

    def torch_forward(self, a, xs, p, training):
        return xs[0].amax(dim=(2, 3), keepdim=True)

    def torch_source(self, node, ins):
        return TorchCall("F.adaptive_max_pool2d({}, 1)")

    def to_onnx(self, node, inputs, output, g):
        g.add("GlobalMaxPool", inputs, output, node.name)

    def reference_forward(self, a, xs, params, ctx):
        y, where = _reference.global_max_forward(xs[0])
        return y, ((where, xs[0].shape) if ctx.keep else None)

    def reference_backward(self, a, dy, cache, params, ctx):
        where, shape = cache
        return [_reference.global_max_backward(dy, where, shape)], {}

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        n, c = x.shape[:2]
        y = np.empty((n, c), dtype=x.dtype)
        arg = np.empty((n, c), dtype=np.int64)
        _pool.gmp_forward(np.ascontiguousarray(x).reshape(n, c, -1), y, arg)
        return y.reshape(n, c, 1, 1), ((arg, x.shape) if ctx.keep else None)

    def backward(self, a, dy, cache, params, ctx):
        arg, shape = cache
        dx = np.empty(shape, dtype=dy.dtype)
        _pool.gmp_backward(np.ascontiguousarray(dy).reshape(shape[:2]), arg, dx.reshape(shape[0], shape[1], -1))
        return [dx], {}


def _torch_window(a) -> tuple[Slot, ...]:
    """nn.MaxPool2d / nn.AvgPool2d's arguments (PyTorch's stride, like cnndsl's, defaults to the kernel)."""
    return (Slot(a["kernel"], "kernel"), Slot(a["stride"], "stride", "stride", a["kernel"]),
            Slot(a["pad"], "pad", "padding", (0, 0)), Slot(a["ceil"], "ceil", "ceil_mode", False))


def _onnx_window(node, g) -> dict:
    """kernel_shape, strides, pads and ceil_mode; ONNX's ceil-mode size must be the graph's (PyTorch drops a
    last window that would start in the right padding, ONNX does not)."""
    a = node.attrs
    x = g.net.node(node.inputs[0]).shape
    if a["ceil"]:
        onnx_size = tuple(-(-(n + 2 * p - k) // s) + 1 for n, k, s, p in zip(x[1:], a["kernel"], a["stride"], a["pad"]))
        if onnx_size != tuple(node.shape[1:]):
            from ..errors import CnnError
            raise CnnError(f"{node.name}: in ceil mode ONNX makes a {onnx_size[0]}×{onnx_size[1]} output where cnndsl "
                           f"(and PyTorch) make {node.shape[1]}×{node.shape[2]}: its last window would start in the "
                           "padding", node.pos, "use ceil=false with one more row and column of padding")
    return dict(kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                pads=[a["pad"][0], a["pad"][1], a["pad"][0], a["pad"][1]], ceil_mode=int(a["ceil"]))

