"""Forward and backward over the network's graph.

Forward runs the layers in source order (a topological order) and frees each activation as soon as
no later layer reads it; what backward needs stays only in the op's cache. Backward runs in reverse,
summing gradients where a tensor fans out (skip edges, branches, a label used twice). Aux heads run in
training only; a trailing softmax is fused with the cross-entropy loss.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import networkx as nx
import numpy as np

from ..errors import CnnError
from ..graph.build import statement_text
from ..kernels.elementwise import max_exponent
from ..kernels.loss import softmax_xent
from ..kernels.schedule import run_batched
from ..ops import OPS, fmt_shape
from ..ops.base import RunContext
from . import memory, weights

MODES = ("eval", "train")
_TOPS = {"relu": float("inf"), "relu6": 6.0}  # the activations fused into the layer before them: their top


@dataclass(frozen=True)
class _Plan:
    """A forward's fixed part (Engine._plan)."""
    nodes: list[str]
    reuse: bool
    ends: list[str]
    keep_out: set[str]
    uses: dict[str, int]
    inplace: set[str]
    fused: dict[str, str]
    clamps: dict[str, float]
    epilogues: dict[str, tuple]
    steps: list[tuple]


class Engine:
    """The runnable state of a Network: parameters, buffers, gradients and the tape of one forward."""

    def __init__(self, graph: nx.DiGraph, dtype=np.float32, kernels: str = "fast"):
        self.g = graph
        self.dtype = np.dtype(dtype)
        self.kernels = kernels  # "fast" (cnndsl/kernels/) or "reference" (cnndsl/kernels/reference/)
        self.params: dict[str, dict[str, np.ndarray]] = {}
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.grads: dict[str, dict[str, np.ndarray]] = {}
        self._tape: dict | None = None
        self._loss_seeds: dict[str, np.ndarray] = {}
        self.outputs: dict[str, np.ndarray] = {}
        self.kept: dict[str, np.ndarray] = {}  # the outputs forward(keep=…) asked for
        self.logits: dict[str, np.ndarray] = {}
        self.input_grad: np.ndarray | None = None
        self._plans: dict[tuple, _Plan] = {}  # per (training, grad, keep, kernels): see _plan

    # ---- parameters ------------------------------------------------------------------------------
    def init(self, seed: int = 0) -> None:
        """He-normal weights before a ReLU-family activation, Glorot-uniform otherwise; biases
        U(±1/√fan_in) as PyTorch does; batch norm γ=1, β=0, running mean 0 and variance 1.
        Each layer draws from its own stream, seeded by (seed, its name): stable under unrelated edits."""
        memory.check_weights(self.g, self.dtype.itemsize)
        self.params, self.state, self.grads = {}, {}, {}
        for node in self.g:
            data = self.g.nodes[node]["node"]
            if not data.params and not data.state:
                continue
            rng = np.random.default_rng([seed, zlib.crc32(node.encode())])
            self.params[node] = {k: self._initial(node, k, shape, rng) for k, shape in data.params.items()}
            if data.state:
                self.state[node] = {"running_mean": np.zeros(data.state["running_mean"], self.dtype),
                                    "running_var": np.ones(data.state["running_var"], self.dtype)}

    def _initial(self, node: str, name: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        data = self.g.nodes[node]["node"]
        if data.op == "batchnorm":
            return (np.ones if name == "weight" else np.zeros)(shape, self.dtype)
        w_shape = data.params["weight"]
        receptive = math.prod(w_shape[2:]) if len(w_shape) == 4 else 1
        fan_in, fan_out = w_shape[1] * receptive, w_shape[0] * receptive
        if name == "bias":
            bound = 1 / math.sqrt(fan_in)
            return rng.uniform(-bound, bound, shape).astype(self.dtype)
        activation = self._activation_after(node)
        if activation is not None:
            slope = self.g.nodes[activation]["node"].attrs.get("slope", 0.0)
            std = math.sqrt(2 / (1 + slope**2)) / math.sqrt(fan_in)
            return (rng.standard_normal(shape) * std).astype(self.dtype)
        limit = math.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(self.dtype)

    def _activation_after(self, node: str) -> str | None:
        """The ReLU-family layer this one feeds (through batch norm or dropout), if any."""
        while True:
            succ = list(self.g.successors(node))
            if len(succ) != 1:
                return None
            node = succ[0]
            op = self.g.nodes[node]["node"].op
            if OPS[op].he_init:
                return node
            if not OPS[op].init_looks_through:
                return None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every weight and running statistic by key (`conv1.weight`, `bn1.running_mean`), in source order:
        the arrays themselves, not copies; each layer's parameters, then its running statistics."""
        out = {}
        for node in self.g:
            for table in (self.params, self.state):
                for k, v in table.get(node, {}).items():
                    out[f"{node}.{k}"] = v
        return out

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Set weights and running statistics from `state_dict`-style keys, each of its exact shape; keys the
        network lacks, or a missing key, are an error (weights.py says which, for files)."""
        shapes = weights.expected(self)
        missing = [k for k in shapes if k not in arrays]
        unknown = [k for k in arrays if k not in shapes]
        wrong = [k for k in shapes if k in arrays and tuple(np.shape(arrays[k])) != shapes[k]]
        if missing or unknown or wrong:
            raise CnnError(f"the state does not fit the network: missing {missing[:3]}, unknown {unknown[:3]}, "
                           f"mis-shaped {wrong[:3]}")
        params: dict[str, dict[str, np.ndarray]] = {}
        state: dict[str, dict[str, np.ndarray]] = {}
        for key in shapes:
            node, name = key.rsplit(".", 1)
            target = state if name.startswith("running_") else params
            target.setdefault(node, {})[name] = np.array(arrays[key], dtype=self.dtype, order="C")
        self.params, self.state = params, state

    def flat(self, which: str = "params") -> dict[str, np.ndarray]:
        """{"conv1.weight": array, ...} in source order (which: params, grads or state)."""
        source = {"params": self.params, "grads": self.grads, "state": self.state}[which]
        return {f"{node}.{k}": v for node in self.g if node in source for k, v in source[node].items()}

    def save(self, path: str | Path) -> Path:
        return weights.save(self, path)

    def load(self, path: str | Path) -> None:
        weights.load(self, path)

    # ---- forward ---------------------------------------------------------------------------------
    def run_nodes(self, training: bool) -> list[str]:
        return [n for n in self.g if n != "input" and (training or not self.g.nodes[n]["node"].train_only)]

    def forward(self, x: np.ndarray, mode: str = "eval", grad: bool = True, seed: int | None = None,
                check_finite: bool = True, profile: dict[str, float] | None = None,
                keep: tuple[str, ...] = ()) -> np.ndarray:
        """Run the network on a batch x (N, C, H, W); returns the main output. With grad, what
        backward needs is kept; in train mode the aux heads run too (see `outputs`). The outputs of the
        layers in `keep` stay too (in `kept`), e.g. feature maps to look at."""
        if mode not in MODES:
            raise CnnError(f"mode must be 'eval' or 'train', not {mode!r}")
        if not self.params and any(self.g.nodes[n]["node"].params for n in self.g):
            raise CnnError("the network has no weights yet", hint="call net.init(seed) or net.load_weights(path)")
        self._check_input(x)
        training = mode == "train"
        plan = self._plan(training, grad, tuple(keep))
        memory.check(self.g, plan.nodes, x.shape[0], grad, self.dtype.itemsize, reuse=plan.reuse)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if grad:  # a new tape: the last gradients go now, not alive next to the new activations (PyTorch's
            self.grads = {}  # zero_grad(set_to_none=True) before a step; a network's worth of memory)
        if check_finite and not finite(x):
            raise CnnError("the input contains NaN or Inf", hint="clean the data before running the network")
        ends, keep_out, fused, inplace = plan.ends, plan.keep_out, plan.fused, plan.inplace
        uses = dict(plan.uses)
        acts: dict[str, np.ndarray] = {"input": x}
        tape: dict[str, object] = {}
        ctx = RunContext(training=training, keep=grad, rng=np.random.default_rng(seed) if training else None)
        with np.errstate(all="ignore"):  # NaN and Inf are caught below, with the layer's name
            for node, data, op, run_op in plan.steps:
                if node in fused:  # its batch norm did it: the same array
                    acts[node] = acts[fused[node]]
                    self._release_inputs(data, uses, acts, keep_out)
                    continue
                ctx.state = self.state.get(node, {})
                ctx.inplace = node in inplace and acts[data.inputs[0]].flags.c_contiguous
                ctx.fuse_clamp = plan.clamps.get(node)  # a batch norm or add that applies the ReLU or ReLU6 after it
                ctx.epilogue = self._epilogue(*plan.epilogues[node]) if node in plan.epilogues else None
                start = perf_counter()
                y, cache = run_op(data.attrs, [acts[i] for i in data.inputs], self.params.get(node, {}), ctx)
                if profile is not None:
                    profile[node] = profile.get(node, 0.0) + perf_counter() - start
                if check_finite and not op.finite_forward and not finite(y):
                    raise _non_finite(data, node, "output", "forward")
                acts[node] = y
                if grad:
                    tape[node] = cache
                self._release_inputs(data, uses, acts, keep_out)
        nodes = plan.nodes
        self.outputs = {e: acts[e] for e in ends}
        self.kept = {k: acts[k] for k in keep if k in acts}
        self.logits = {e: acts[self._logits(e)] for e in ends}
        self._tape = {"tape": tape, "nodes": nodes, "ctx": ctx, "check": check_finite,
                      "x_shape": x.shape} if grad else None
        self._loss_seeds = {}
        return acts[self.g.graph["output"]]

    def _plan(self, training: bool, grad: bool, keep: tuple[str, ...]) -> "_Plan":
        """What a forward of this kind runs, worked out once: the nodes, their ops, how often each output is
        read, and at inference the buffers reused and the activations fused (memory.reuse_plan). At batch 1
        working it out each time was a third of LeNet-5's forward."""
        key = (training, grad, keep, self.kernels)
        if key in self._plans:
            return self._plans[key]
        nodes = self.run_nodes(training)
        reuse = not grad and not training and self.kernels == "fast"  # inference: buffers may be reused
        ends = [self.g.graph["output"]] + ([h["node"] for h in self.g.graph["aux_heads"]] if training else [])
        keep_out = set(ends) | {self._logits(e) for e in ends} | set(keep)
        running = set(nodes)
        uses = {n: sum(1 for s in self.g.successors(n) if s in running) for n in self.g}
        inplace, fused, epilogues = memory.reuse_plan(self.g, nodes, keep_out) if reuse else (set(), {}, {})
        clamps = {bn: _TOPS[self.g.nodes[act]["node"].op] for act, bn in fused.items()
                  if self.g.nodes[bn]["node"].op in ("batchnorm", "add") and bn not in fused}
        steps = []
        for node in nodes:
            data = self.g.nodes[node]["node"]
            op = OPS[data.op]
            steps.append((node, data, op, op.reference_forward if self.kernels == "reference" else op.forward))
        plan = _Plan(nodes, reuse, ends, keep_out, uses, inplace, fused, clamps, epilogues, steps)
        self._plans[key] = plan
        return plan

    def _epilogue(self, bn: str | None, act: str | None):
        """What a convolution applies as it writes: the batch norm's scale and shift from its weights and
        running statistics as they are now (so nothing is cached that a weight update could leave stale),
        and the activation's bounds."""
        from ..kernels.conv.epilogue import Epilogue
        if bn is None:
            scale = shift = np.empty(0, self.dtype)
        else:
            p, st = self.params[bn], self.state[bn]
            scale, shift = Epilogue.batchnorm(p["weight"], p["bias"], st["running_mean"], st["running_var"],
                                              self.g.nodes[bn]["node"].attrs["eps"], self.dtype)
        if act is None:
            return Epilogue(scale, shift)
        return Epilogue(scale, shift, 0.0, _TOPS[self.g.nodes[act]["node"].op])

    @staticmethod
    def _release_inputs(data, uses: dict, acts: dict, keep_out: set) -> None:
        for i in dict.fromkeys(data.inputs):
            uses[i] -= 1
            if uses[i] <= 0 and i not in keep_out:
                del acts[i]

    def release(self) -> None:
        """Drop the last forward's tape, outputs and gradients (the weights stay)."""
        self._tape, self._loss_seeds, self.outputs, self.logits, self.grads = None, {}, {}, {}, {}
        self.kept = {}
        self.input_grad = None

    def _logits(self, end: str) -> str:
        """A trailing softmax is fused with the loss: its input holds the logits."""
        data = self.g.nodes[end]["node"]
        return data.inputs[0] if data.op == "softmax" else end

    def _check_input(self, x) -> None:
        if not isinstance(x, np.ndarray):
            raise CnnError(f"the input must be a NumPy array, not {type(x).__name__}")
        expected = tuple(self.g.graph["input_shape"])
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise CnnError(f"the input has shape {fmt_shape(x.shape)}, but the network takes N×{fmt_shape(expected)}",
                           hint=f"give a batch of shape (N, {', '.join(map(str, expected))})")
        if x.dtype.kind != "f":
            raise CnnError(f"the input has dtype {x.dtype}, but the network computes in {self.dtype}",
                           hint=f"convert it with x.astype(np.{self.dtype})")
        if x.shape[0] == 0:
            raise CnnError("the input batch is empty")

    # ---- backward --------------------------------------------------------------------------------
    def backward(self, dy: np.ndarray | None = None, profile: dict[str, float] | None = None,
                 input_grad: bool = True, observe=None) -> np.ndarray | None:
        """Back-propagate dy (the gradient of the main output, as y.backward(dy)); without dy, the
        gradient of the last `loss`. Parameter gradients land in `grads`; returns the input's
        (None with input_grad=False, which spares the first layers that work)."""
        if self._tape is None:
            raise CnnError("backward needs a forward pass with grad=True first")
        if dy is None:
            seeds = self._loss_seeds
            if not seeds:
                raise CnnError("backward() without dy needs a loss first", hint="call net.loss(x, labels)")
        else:
            out = self.g.graph["output"]
            expected = self.outputs[out].shape
            dy = np.asarray(dy)
            if dy.shape != expected:
                raise CnnError(f"the output gradient has shape {fmt_shape(dy.shape)}, expected {fmt_shape(expected)}")
            seeds = {out: np.ascontiguousarray(dy, dtype=self.dtype)}
        return self.backward_from(seeds, profile, input_grad, observe)

    def backward_from(self, seeds: dict[str, np.ndarray], profile: dict[str, float] | None = None,
                      input_grad: bool = True, observe=None) -> np.ndarray | None:
        """Back-propagate gradients given at any outputs of the last forward ({node: gradient of its
        output}, e.g. the main output and the aux heads'); returns the input's gradient. observe(node,
        gradient), if given, sees each node's complete output gradient before the node back-propagates it
        (read it, do not keep or change it: the array is reused)."""
        if self._tape is None:
            raise CnnError("backward needs a forward pass with grad=True first")
        tape, nodes, ctx = self._tape["tape"], self._tape["nodes"], self._tape["ctx"]
        pending: dict[str, np.ndarray] = dict(seeds)
        owned: set[str] = set()
        self.grads = {}
        for node in reversed(nodes):
            g = pending.pop(node, None)
            if g is None:
                continue
            if observe is not None:
                observe(node, g)
            data = self.g.nodes[node]["node"]
            ctx.state = self.state.get(node, {})
            ctx.need_dx = input_grad or "input" not in data.inputs
            start = perf_counter()
            with np.errstate(all="ignore"):
                op = OPS[data.op]
                run_op = op.reference_backward if self.kernels == "reference" else op.backward
                dxs, dparams = run_op(data.attrs, g, tape.pop(node), self.params.get(node, {}),
                                                        ctx)
            if profile is not None:
                profile[node] = profile.get(node, 0.0) + perf_counter() - start
            if dparams:
                self.grads[node] = dparams
            for i, dx in zip(data.inputs, dxs):
                if dx is None:  # not asked for (the network's input)
                    continue
                if self._tape["check"] and not OPS[data.op].finite_backward and not finite(dx):
                    raise _non_finite(data, node, "input gradient", "backward")
                if i not in pending:
                    pending[i] = dx
                elif i in owned:
                    pending[i] += dx
                else:
                    pending[i] = pending[i] + dx
                    owned.add(i)
        for node in nodes:  # layers no gradient reached (an unused aux head) get zeros
            for k, v in self.params.get(node, {}).items():
                grads = self.grads.setdefault(node, {})
                if k not in grads:
                    grads[k] = np.zeros_like(v)
        if not input_grad:
            self.input_grad = None
        elif "input" in pending:
            self.input_grad = pending["input"]
        else:
            self.input_grad = np.zeros(self._tape["x_shape"], self.dtype)
        return self.input_grad

    # ---- loss --------------------------------------------------------------------------------------
    def loss(self, x: np.ndarray, labels: np.ndarray, seed: int | None = None, mode: str = "train",
             profile: dict[str, float] | None = None) -> float:
        """A forward pass and the softmax-cross-entropy of the main output plus, in training, the aux
        heads' weighted. `backward()` then back-propagates it."""
        self.forward(x, mode=mode, grad=True, seed=seed, profile=profile)
        labels = np.asarray(labels)
        heads = self.g.graph["aux_heads"] if mode == "train" else []
        weights_of = {self.g.graph["output"]: 1.0} | {h["node"]: h["weight"] for h in heads}
        total, seeds = 0.0, {}
        for end, weight in weights_of.items():
            z = self.logits[end]
            if z.ndim != 2:
                raise CnnError(f"the loss needs 1-D outputs, but '{end}' gives {fmt_shape(z.shape[1:])}")
            _check_labels(labels, z.shape, "the network" if end == self.g.graph["output"]
                          else f"the aux head ending in '{end}'")
            probs, dz = np.empty_like(z), np.empty_like(z)
            total += weight * softmax_xent(np.ascontiguousarray(z), labels.astype(np.int64), probs, dz)
            seeds[self._logits(end)] = dz * self.dtype.type(weight)
        self._loss_seeds = seeds
        if not math.isfinite(total):
            raise CnnError(f"the loss is {total}", hint="lower the learning rate or check the input data")
        return total


MIN_PARALLEL_CHECK = 1 << 22  # elements: below, the hand-over to a second thread costs more than half the pass
_EXPONENT = {np.dtype(np.float32): (np.uint32, np.uint32(0x7F800000)),
             np.dtype(np.float64): (np.uint64, np.uint64(0x7FF0000000000000))}


def finite(a: np.ndarray) -> bool:
    """No NaN or Inf in a: no element has its exponent bits all set. Over the cores when a is large."""
    if a.dtype not in _EXPONENT:
        return bool(np.isfinite(a).all())
    unsigned, mask = _EXPONENT[a.dtype]
    bits = np.ascontiguousarray(a).reshape(-1).view(unsigned)
    if bits.size < MIN_PARALLEL_CHECK:
        return max_exponent(bits, mask) != mask
    parts = run_batched(lambda lo, hi: max_exponent(bits[lo:hi], mask), bits.size,
                        worth_it=bits.size >= MIN_PARALLEL_CHECK)
    return max(parts) != mask


def _check_labels(labels: np.ndarray, shape: tuple, who: str) -> None:
    if labels.shape != (shape[0],) or labels.dtype.kind not in "iu":
        raise CnnError(f"labels must be {shape[0]} whole numbers, got an array of shape {labels.shape} "
                       f"and dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= shape[1]):
        raise CnnError(f"labels must lie in 0…{shape[1] - 1} ({who} has {shape[1]} outputs), "
                       f"got {labels.min()}…{labels.max()}")


def _non_finite(data: dict, node: str, what: str, phase: str) -> CnnError:
    return CnnError(f"NaN or Inf in the {what} of layer '{node}' (`{statement_text(data)}`) during {phase}", data.pos,
                    "lower the learning rate, check the input for NaN/Inf, or the weights file")
