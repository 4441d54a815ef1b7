"""What every op is: its arguments, its shape rule, its parameters and costs, what backward keeps, how
it is drawn and initialized, and its PyTorch equivalent.

An op is a subclass of Op with a `name`: defining the class registers it (`REGISTRY`), and ops/__init__.py
imports every module of this package. Everything cnndsl knows about `conv` is in ops/conv.py: adding an
op touches its module, its kernels and its tests; the op table of docs/language.md is generated from
these classes (cnndsl/ops/doc.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from typing import Any, ClassVar

from ..errors import clip, suggest
from ..kernels.lazy import lazy_module
from ..format import fmt_shape, fmt_size  # noqa: F401 — re-exported for the ops

np = lazy_module("numpy")

Shape = tuple[int, ...]
Attrs = dict[str, Any]

REQUIRED = object()
MAX_INT = 2**31 - 1  # channels, features, sizes: beyond this nothing fits in memory anyway
SAME_AS_KERNEL = object()


class ShapeError(Exception):
    """An op's input does not fit; the expander adds the statement's position."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


class ArgError(Exception):
    """An argument is missing, unknown or of the wrong kind; `where` names it (an option key, or None)."""

    def __init__(self, message: str, where: str | int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.where, self.hint = message, where, hint


@dataclass(frozen=True)
class Arg:
    """One positional argument or option: its name, its kind, its default and a line of help."""

    name: str
    kind: str  # int, count, size, pad, float, prob, bool
    default: Any = REQUIRED
    help: str = ""


def numel(shape: Shape) -> int:
    return math.prod(shape)


_KIND_TEXT = {
    "int": "a whole number ≥ 1",
    "count": "a whole number ≥ 0",
    "size": "a size like 3x3 or a whole number",
    "pad": "a whole number, a size like 1x2, `same` or `valid`",
    "float": "a number",
    "prob": "a probability in [0, 1)",
    "bool": "`true` or `false`",
}


def convert(arg: Arg, value: Any) -> Any:
    """Check and normalize one argument value; raise ArgError saying what was expected."""
    kind = arg.kind
    ok = True
    if kind in ("int", "count"):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= (1 if kind == "int" else 0)
        if ok and value > MAX_INT:
            raise ArgError(f"`{arg.name}` = {value:,} is beyond any network cnndsl can count or run "
                           f"(at most {MAX_INT:,})", arg.name)
    elif kind == "size":
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value, value)
        ok = isinstance(value, tuple) and 1 <= min(value) and max(value) <= MAX_INT
    elif kind == "pad":
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value, value)
        ok = (isinstance(value, tuple) and 0 <= min(value) and max(value) <= MAX_INT) or value in ("same", "valid")
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind == "prob":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
        value = float(value) if ok else value
    elif kind == "bool":
        ok = isinstance(value, bool)
    if not ok:
        raise ArgError(f"`{arg.name}` must be {_KIND_TEXT[kind]}, not {show_value(value)}", arg.name)
    return value


def show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class Step:
    """One line of `cnndsl explain`: what is worked out, the arithmetic with the values put in, the result,
    and why it is so."""

    what: str
    formula: str
    value: Any
    why: str = ""
    unit: str = ""  # "bytes", …


def times(*factors) -> str:
    """64·3·7·7"""
    return "·".join(str(f) for f in factors)


def window_steps(in_hw, kernel, stride, pad, dilation, ceil: bool, out_hw) -> list[Step]:
    """The output size of a sliding window, one step per side (one when both read alike):
    ⌊(in + 2·pad − d·(k − 1) − 1)/stride⌋ + 1, or ⌈…⌉ with ceil; with d = 1, (in + 2·pad − k)/stride + 1."""
    steps = []
    for side, n, k, s, p, d, out in zip(("height", "width"), in_hw, kernel, stride, pad, dilation, out_hw):
        inner = f"{n}" + (f" + 2·{p}" if p else "") + (f" − {d}·({k} − 1) − 1" if d > 1 else f" − {k}")
        if s > 1:
            formula = f"⌈({inner})/{s}⌉ + 1" if ceil else f"⌊({inner})/{s}⌋ + 1"
        else:
            formula = f"{inner} + 1"
        why = ("the number of window positions, the first at the top-left corner of the padded input"
               + ("; ceil mode keeps a last, partial window if it starts inside the input" if ceil else ""))
        if ceil and s > 1 and (-(-(n + 2 * p - d * (k - 1) - 1) // s)) + 1 != out:
            why += " (here it would not, so one fewer)"
        steps.append(Step(f"output {side}", formula, out, why))
    if len(steps) == 2 and steps[0].formula == steps[1].formula:
        steps = [Step("output height, width", steps[0].formula, steps[0].value, steps[0].why)]
    return steps


@dataclass(frozen=True)
class Slot:
    """One argument of a PyTorch constructor in exported source (cnndsl/export/pytorch.py): its value,
    the .cnn argument it comes from (an option or positional name, "in" for the input's channels or
    features, None when derived), the keyword it is passed as, and the default that lets it be left out."""

    value: Any
    source: str | None = None
    kw: str | None = None
    default: Any = REQUIRED


@dataclass(frozen=True)
class TorchModule:
    """`nn.Conv2d(3, 64, 7, stride=2, padding=3)`: a layer that is a module attribute in exported source."""

    cls: str
    args: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class TorchCall:
    """`F.relu({})`: a layer that is a function call in exported source; `{}` takes the inputs, joined."""

    template: str
    join: str = ", "
    binary: bool = False  # an infix operator: parenthesized inside another one


REGISTRY: dict[str, type["Op"]] = {}  # name → class, in the order the classes are defined


class Op:
    """Base of every op. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    statement: ClassVar[str] = "layer"  # "layer" (a statement of its own), "merge" (concat, add, mul), "input"
    aliases: ClassVar[tuple[str, ...]] = ()
    display: ClassVar[str | None] = None  # how a diagram box names it when its description is just the name
    parameters: ClassVar[str] = "—"  # the parameters, as docs/language.md's op table lists them
    he_init: ClassVar[bool] = False  # the layer before it gets He-normal weights (the ReLU family)
    init_looks_through: ClassVar[bool] = False  # initialization looks past it for a ReLU (bn, dropout, …)
    family: ClassVar[str] = "other"  # colours and legend in diagrams
    positional: ClassVar[tuple[Arg, ...]] = ()
    options: ClassVar[tuple[Arg, ...]] = ()
    fuses: ClassVar[bool] = False  # drawn inside the node of the layer before it (activations, bn)
    # Finite inputs always give a finite output (forward) / input gradient (backward): the engine skips
    # its NaN/Inf check there, since the first non-finite value must come from another layer.
    # Inference: forward can write over its input when the engine allows it (ctx.inplace); the output is a
    # fresh array, not a view of an input (flatten, identity and inference dropout return their input)
    inplace_ok: ClassVar[bool] = False
    fresh_output: ClassVar[bool] = True
    finite_forward: ClassVar[bool] = False
    finite_backward: ClassVar[bool] = False
    help: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in REGISTRY:
                raise TypeError(f"two ops are named {cls.name!r}: {REGISTRY[cls.name].__qualname__} and {cls.__qualname__}")
            REGISTRY[cls.name] = cls

    # ---- arguments --------------------------------------------------------------------------------
    def resolve(self, args: list[Any], options: dict[str, Any]) -> Attrs:
        """Positional and key=value values → the full attribute dict, defaults filled in."""
        if not (args or options or self.positional or self.options):
            return {}
        if len(args) > len(self.positional):
            n = len(self.positional)
            takes = ("takes no positional arguments" if n == 0 else
                     f"takes {n} positional argument{'s' if n != 1 else ''} ({' '.join(a.name for a in self.positional)})")
            raise ArgError(f"{takes}, got {len(args)}", n, self.usage())
        attrs: Attrs = {}
        for spec, value in zip(self.positional, args):
            attrs[spec.name] = convert(spec, value)
        known = {a.name: a for a in self.positional + self.options}
        for key, value in options.items():
            if key not in known:
                raise ArgError(f"no option `{clip(key)}`{suggest(key, known)}", key,
                               self.usage())
            if key in attrs:
                raise ArgError(f"`{key}` is given twice", key)
            attrs[key] = convert(known[key], value)
        for spec in self.positional + self.options:
            if spec.name in attrs:
                continue
            if spec.default is REQUIRED:
                raise ArgError(f"needs `{spec.name}` ({_KIND_TEXT[spec.kind]})", None, self.usage())
            attrs[spec.name] = attrs["kernel"] if spec.default is SAME_AS_KERNEL else convert(spec, spec.default)
        return attrs

    def usage(self) -> str:
        parts = [self.name] + [a.name for a in self.positional]
        parts += [f"{a.name}={show_value(a.default) if a.default is not SAME_AS_KERNEL else 'kernel'}"
                  for a in self.options]
        return "usage: " + " ".join(parts)

    # ---- shapes and costs (per sample) -----------------------------------------------------------
    def infer(self, a: Attrs, ins: list[Shape]) -> Shape:
        return ins[0]

    def param_shapes(self, a: Attrs, ins: list[Shape]) -> dict[str, Shape]:
        return {}

    def state_shapes(self, a: Attrs, ins: list[Shape]) -> dict[str, Shape]:
        """Buffers that are saved with the weights but not trained (batch norm's running statistics)."""
        return {}

    def macs(self, a: Attrs, ins: list[Shape], out: Shape) -> int:
        return 0

    def flops(self, a: Attrs, ins: list[Shape], out: Shape) -> int:
        return 0

    def window(self, a: Attrs, ins: list[Shape]) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """(effective kernel, stride) for the receptive field; None keeps the input's field."""
        return None

    def describe(self, a: Attrs) -> str:
        """The op as a table row or a diagram node reads it: 'conv 64 3×3 /2'."""
        return self.name

    # ---- the arithmetic behind the numbers (`cnndsl explain`) -------------------------------------
    def explain_shape(self, a: Attrs, ins: list[Shape], out: Shape) -> list[Step]:
        """How the output's shape follows from the input's."""
        return [Step("output", "the input's shape", out, "element by element")]

    def explain_costs(self, a: Attrs, ins: list[Shape], out: Shape) -> list[Step]:
        """MACs and FLOPs with the numbers put in (parameters are explained from param_shapes)."""
        macs, flops = self.macs(a, ins, out), self.flops(a, ins, out)
        steps = [Step("MACs", str(macs), macs)] if macs else []
        return steps + [Step("FLOPs", str(flops), flops, "" if flops else "no arithmetic")]

    def workspace(self, node, batch: int, threads: int, grad: bool) -> int:
        """Elements of scratch the op's kernels use at once (for the memory estimate); `node` is the
        graph's Node (cnndsl/graph/node.py)."""
        return 0

    def torch_forward(self, a: Attrs, xs: list, p: dict, training: bool):
        """The op in torch terms (tensors in, tensor out): the exporter and the tests' oracle."""
        raise NotImplementedError(f"`{self.name}` has no PyTorch equivalent yet")

    def torch_source(self, node, ins: list[Shape]) -> "TorchModule | TorchCall":
        """How exported PyTorch source writes the layer (cnndsl/export/pytorch.py); ins: the input shapes."""
        raise NotImplementedError(f"`{self.name}` has no PyTorch equivalent yet")

    def to_onnx(self, node, inputs: list[str], output: str, g) -> None:
        """Write the op's ONNX nodes into g (cnndsl/export/onnx.py's OnnxGraph): inputs are the tensor
        names of node.inputs; the result must be named `output`."""
        raise NotImplementedError(f"`{self.name}` has no ONNX equivalent yet")

    def saves(self, a: Attrs) -> tuple[str, ...]:
        """What forward keeps for backward, for the memory estimate: "input" (the input tensors),
        "output", or "extra" (a new tensor of the output's size: a mask, indices, a scale)."""
        return ()

    # ---- execution (batched: arrays carry the batch as their first axis) -------------------------
    def forward(self, a: Attrs, xs: list[np.ndarray], params: dict[str, np.ndarray], ctx: "RunContext"):
        """→ (y, cache): cache is whatever backward needs (None at inference)."""
        raise NotImplementedError(f"{self.name} has no forward")

    def backward(self, a: Attrs, dy: np.ndarray, cache, params: dict[str, np.ndarray], ctx: "RunContext"):
        """→ (gradients of the inputs in forward's order, gradients of the parameters by name)."""
        raise NotImplementedError(f"{self.name} has no backward")

    def stand_in_cache(self, a: Attrs, xs: list[np.ndarray], y: np.ndarray):
        """What forward would keep for backward, made from its inputs xs and an array y of its output's
        shape, without running forward; None where only forward can make it. engine/ahead.py compiles a
        first run's backward kernels from it in a second process while the first one runs forward."""
        return None

    # the reference tier (cnndsl/kernels/reference/): plain loops, written to be read. An op whose
    # forward and backward are already plain NumPy (merges, flatten, dropout) is its own reference.
    def reference_forward(self, a: Attrs, xs: list[np.ndarray], params: dict[str, np.ndarray], ctx: "RunContext"):
        return self.forward(a, xs, params, ctx)

    def reference_backward(self, a: Attrs, dy: np.ndarray, cache, params: dict[str, np.ndarray], ctx: "RunContext"):
        return self.backward(a, dy, cache, params, ctx)


@dataclass
class RunContext:
    """What a forward or backward call may need beyond its inputs."""

    training: bool
    keep: bool  # keep what backward needs
    rng: np.random.Generator | None  # training only (dropout); None at inference, where nothing is random
    state: dict[str, np.ndarray] = field(default_factory=dict)  # this node's buffers (running statistics)
    need_dx: bool = True  # backward may skip the input gradient (the network's input needs none)
    # inference only (engine/executor.py decides): the op may write its output over its input, which nothing
    # else reads; a batch norm or add may clamp its output as the ReLU or ReLU6 after it would (fuse_clamp: the top)
    inplace: bool = False
    fuse_clamp: float | None = None
    # a convolution that applies the batch norm and/or activation after it as it writes (kernels/conv/epilogue.py)
    epilogue: object = None


def needs_image(op: Op, shape: Shape) -> None:
    if len(shape) != 3:
        raise ShapeError(f"`{op.name}` needs a C×H×W input, got {fmt_shape(shape)}",
                         "spatial layers go before `flatten`")


def window_out(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """PyTorch's output size: floor((in + 2p − d(k−1) − 1) / s) + 1, ceil where asked (and the last
    window must start inside the input or the left padding, as PyTorch requires)."""
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out
