"""Normalization: local response normalization (AlexNet) and batch normalization."""

from __future__ import annotations

from ..kernels.lazy import kernel_module, lazy_module
from ..kernels.schedule import over_batch, over_channels
from .base import Slot, TorchModule, Arg, Op, ShapeError, Step, fmt_shape, needs_image, numel, times

np = lazy_module("numpy")
_reference = lazy_module("cnndsl.kernels.reference.norm")

_norm = kernel_module("normalization")


def _ncp(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, C) → (N, C, P), a view."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def _update_running(rm, rv, mean, var, m: int, momentum: float) -> None:
    """PyTorch's rule: running = (1 − momentum)·running + momentum·batch, the variance unbiased (m/(m−1))."""
    mom = rm.dtype.type(momentum)
    rm *= 1 - mom
    rm += mom * mean
    rv *= 1 - mom
    rv += mom * var * (m / max(m - 1, 1))


class LRN(Op):
    name = "lrn"
    family = "norm"
    help = ("b = a / (k + alpha·Σ a²)^beta over `size` neighbouring channels (the AlexNet paper: alpha not "
            "divided by size)")
    options = (
        Arg("size", "int", 5),
        Arg("alpha", "float", 1e-4),
        Arg("beta", "float", 0.75),
        Arg("k", "float", 2.0),
    )

    def saves(self, a):
        return ("input", "extra")

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F  # PyTorch divides alpha by size; cnndsl follows the paper
        return F.local_response_norm(xs[0], a["size"], alpha=a["alpha"] * a["size"], beta=a["beta"], k=a["k"])

    def torch_source(self, node, ins):
        a = node.attrs  # PyTorch divides alpha by size; cnndsl follows the paper
        return TorchModule("nn.LocalResponseNorm", (
            Slot(a["size"], "size"), Slot(a["alpha"] * a["size"], None, "alpha", 1e-4),
            Slot(a["beta"], "beta", "beta", 0.75), Slot(a["k"], "k", "k", 1.0)))

    def to_onnx(self, node, inputs, output, g):
        a = node.attrs  # ONNX, like PyTorch, divides alpha by size
        g.add("LRN", inputs, output, node.name, size=a["size"], alpha=a["alpha"] * a["size"], beta=a["beta"], bias=a["k"])

    def infer(self, a, ins):
        needs_image(self, ins[0])
        return ins[0]

    def flops(self, a, ins, out):
        return numel(out) * (2 * a["size"] + 3)

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", f"{times(*out)} · (2·{a['size']} + 3)", self.flops(a, ins, out),
                     f"per element: the squares of {a['size']} neighbouring channels summed, then scaled, "
                     "raised to β and divided")]

    def forward(self, a, xs, params, ctx):
        (x,) = xs
        y, scale = np.empty_like(x), np.empty_like(x)
        x3, y3, s3 = _ncp(x), _ncp(y), _ncp(scale)
        over_batch(lambda lo, hi: _norm.lrn_forward(x3[lo:hi], a["size"], a["alpha"], a["beta"], a["k"], y3[lo:hi],
                                              s3[lo:hi]), len(x), x.size)
        return y, ((x, scale) if ctx.keep else None)

    def backward(self, a, dy, cache, params, ctx):
        x, scale = cache
        dx = np.empty_like(x)
        d3, x3, s3, dx3 = _ncp(dy), _ncp(x), _ncp(scale), _ncp(dx)
        over_batch(lambda lo, hi: _norm.lrn_backward(d3[lo:hi], x3[lo:hi], s3[lo:hi], a["size"], a["alpha"], a["beta"],
                                               dx3[lo:hi]), len(x), x.size)
        return [dx], {}

    def reference_forward(self, a, xs, params, ctx):
        y, s = _reference.lrn_forward(xs[0], a["size"], xs[0].dtype.type(a["alpha"]), xs[0].dtype.type(a["beta"]),
                                      xs[0].dtype.type(a["k"]))
        return y, ((xs[0], s) if ctx.keep else None)

    def reference_backward(self, a, dy, cache, params, ctx):
        x, s = cache
        return [_reference.lrn_backward(dy, x, s, a["size"], x.dtype.type(a["alpha"]), x.dtype.type(a["beta"]))], {}

    def describe(self, a):
        return f"lrn {a['size']}"


class BatchNorm(Op):
    name = "batchnorm"
    aliases = ("bn",)
    family = "norm"
    fuses = True
    help = "normalize each channel by batch statistics (running statistics at inference), then gamma·x + beta"
    options = (Arg("eps", "float", 1e-5), Arg("momentum", "float", 0.1))

    display = "BN"
    parameters = "gamma[C], beta[C] (saved as `weight`, `bias`)"
    inplace_ok = True  # at inference: one multiply-add per element
    init_looks_through = True

    def saves(self, a):
        return ("input",)

    def torch_forward(self, a, xs, p, training):
        import torch.nn.functional as F
        return F.batch_norm(xs[0], p["running_mean"], p["running_var"], p["weight"], p["bias"], training,
                            a["momentum"], a["eps"])

    def torch_source(self, node, ins):
        a = node.attrs
        return TorchModule("nn.BatchNorm2d" if len(ins[0]) == 3 else "nn.BatchNorm1d", (
            Slot(ins[0][0], "in"), Slot(a["eps"], "eps", "eps", 1e-5), Slot(a["momentum"], "momentum", "momentum", 0.1)))

    def to_onnx(self, node, inputs, output, g):
        n = node.name
        g.add("BatchNormalization", inputs + [g.weight(f"{n}.weight"), g.weight(f"{n}.bias"),
                                              g.weight(f"{n}.running_mean"), g.weight(f"{n}.running_var")],
              output, n, epsilon=node.attrs["eps"])

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

    def explain_costs(self, a, ins, out):
        return [Step("FLOPs", f"2 · {times(*out)}", self.flops(a, ins, out),
                     "at inference a scale and a shift per element (γ/σ and β − γμ/σ folded per channel)")]

    def forward(self, a, xs, params, ctx):
        """Training: batch statistics, and the running ones updated (unbiased variance, as PyTorch);
        inference: the running statistics."""
        (x,) = xs
        x3 = _ncp(x)
        rm, rv = ctx.state["running_mean"], ctx.state["running_var"]
        if ctx.training:
            mean, var = np.empty_like(rm), np.empty_like(rv)
            over_channels(lambda c0, c1: _norm.batch_stats(x3, mean, var, c0, c1), x3.shape[1], x.size)
            _update_running(rm, rv, mean, var, x3.shape[0] * x3.shape[2], a["momentum"])
        else:
            mean, var = rm.copy(), rv.copy()
        inference = not ctx.training and not ctx.keep
        y = x if ctx.inplace and inference else np.empty_like(x)
        y3 = _ncp(y)
        w, b, eps = params["weight"], params["bias"], a["eps"]
        if ctx.fuse_clamp is not None and inference:
            top = ctx.fuse_clamp
            over_channels(lambda c0, c1: _norm.bn_clamp_forward(x3, mean, var, w, b, eps, top, y3, c0, c1),
                          x3.shape[1], x.size)
        else:
            over_channels(lambda c0, c1: _norm.bn_forward(x3, mean, var, w, b, eps, y3, c0, c1), x3.shape[1], x.size)
        return y, ((x, mean, var) if ctx.keep else None)

    def stand_in_cache(self, a, xs, y):
        c = xs[0].shape[1]
        return xs[0], np.zeros(c, dtype=xs[0].dtype), np.ones(c, dtype=xs[0].dtype)

    def reference_forward(self, a, xs, params, ctx):
        (x,) = xs
        rm, rv = ctx.state["running_mean"], ctx.state["running_var"]
        if ctx.training:
            mean, var = _reference.batch_statistics(x)
            mean, var = mean.astype(x.dtype), var.astype(x.dtype)
            _update_running(rm, rv, mean, var, x.size // x.shape[1], a["momentum"])
        else:
            mean, var = rm.copy(), rv.copy()
        eps = x.dtype.type(a["eps"])
        y = _reference.batchnorm_forward(x, params["weight"], params["bias"], mean, var, eps).astype(x.dtype)
        return y, ((x, mean, var) if ctx.keep else None)

    def reference_backward(self, a, dy, cache, params, ctx):
        x, mean, var = cache
        dx, dgamma, dbeta = _reference.batchnorm_backward(dy, x, params["weight"], mean, var, x.dtype.type(a["eps"]),
                                                           ctx.training)
        return [dx.astype(dy.dtype)], {"weight": dgamma.astype(dy.dtype), "bias": dbeta.astype(dy.dtype)}

    def backward(self, a, dy, cache, params, ctx):
        x, mean, var = cache
        dx, dgamma, dbeta = np.empty_like(dy), np.empty_like(var), np.empty_like(var)
        d3, x3, dx3 = _ncp(dy), _ncp(x), _ncp(dx)
        w, eps, training = params["weight"], a["eps"], ctx.training
        over_channels(lambda c0, c1: _norm.bn_backward(d3, x3, mean, var, w, eps, training, dx3, dgamma, dbeta, c0, c1),
                   d3.shape[1], dy.size)
        return [dx], {"weight": dgamma, "bias": dbeta}

    def describe(self, a):
        return "bn"
