"""The memory a run needs, estimated before anything is allocated, and refused when it cannot fit.

The footprint of a forward (and backward) pass at batch N is the sum of
  weights        parameters and running statistics (float32)
  gradients      one per parameter, with backward
  optimizer      Adam's two moments, SGD's velocity, when training
  activations    the peak of what is alive at once: at inference each layer's output is freed once its
                 last reader has run (a sweep over the layers, as the executor does); for backward every
                 tensor an op saves (`Op.saves`) stays until backward reaches it, and the gradients in
                 flight come on top
  workspace      the convolution tiles of every thread, Winograd's transformed filters
and is compared with the memory this process may still use: the smallest of MemAvailable, the cgroup's
limit less its usage, and RLIMIT_AS less the address space already mapped.
"""

from __future__ import annotations

import math
import os
import resource
import weakref
from dataclasses import dataclass

import networkx as nx

from ..errors import CnnError
from ..format import human
from ..ops import OPS
from ..threads import threads_from_env

HEADROOM = 0.85      # of the available memory a run may plan to use
ALWAYS_FITS = 64 << 20  # bytes: a pass this small is not checked against /proc (30–40 µs a read, at batch 1 a
                        # tenth of LeNet-5's forward); a machine without 64 MB to spare fails Python first
SLOTS = {"adam": 2, "sgd": 1, None: 0}


@dataclass(frozen=True)
class Footprint:
    """Bytes, per part; `per_image` is what one more image adds (activations only)."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    workspace: int
    per_image: int
    largest: str  # the layer whose output is largest

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.workspace

    def describe(self) -> str:
        parts = [("weights", self.weights), ("gradients", self.gradients), ("optimizer state", self.optimizer),
                 ("activations", self.activations), ("workspace", self.workspace)]
        return ", ".join(f"{name} {human(b, 'B')}" for name, b in parts if b)


def estimate(g: nx.DiGraph, nodes: list[str], batch: int, grad: bool, itemsize: int = 4,
             optimizer: str | None = None, reuse: bool = False) -> Footprint:
    """reuse: an inference pass that writes element-wise layers over their inputs (reuse_plan)."""
    data = {n: g.nodes[n]["node"] for n in ["input"] + nodes}
    size = {n: math.prod(d.shape) for n, d in data.items()}
    params = sum(d.n_params for d in data.values())
    state = sum(math.prod(s) for d in data.values() for s in d.state.values())
    threads = threads_from_env()
    ws = {n: OPS[d.op].workspace(d, batch, threads, grad) for n, d in data.items()}
    if grad:
        peak, ws_at_peak = _backward_peak(g, nodes, data, size, batch, ws)
    else:
        peak, ws_at_peak = _inference_peak(g, nodes, data, size, batch, ws, reuse)
    largest = max(nodes, key=lambda n: size[n]) if nodes else "input"
    return Footprint(weights=(params + state) * itemsize, gradients=params * itemsize if grad else 0,
                     optimizer=SLOTS[optimizer] * params * itemsize,
                     activations=(peak - ws_at_peak) * itemsize, workspace=ws_at_peak * itemsize,
                     per_image=-(-(peak - ws_at_peak) // max(batch, 1)) * itemsize, largest=largest)


def reuse_plan(g: nx.DiGraph, nodes: list[str], keep: set[str]) -> tuple[set[str], dict[str, str], dict[str, tuple]]:
    """At inference (eval, nothing kept for backward): the element-wise layers (Op.inplace_ok) that write
    over their input — an array of its producer's own (Op.fresh_output, or itself written over one), read
    by nothing else and not in `keep`; the layers another computes in its own pass ({layer: its input, whose
    array it is}): the batch norm after a convolution and the ReLU or ReLU6 after either, and the ReLU or
    ReLU6 after a batch norm that follows something else or after an add; and what each such convolution applies
    ({conv: (batch norm or None, activation or None)}, kernels/conv/epilogue.py). The engine runs this plan;
    the estimate counts no new array for any of them."""
    running = set(nodes)
    uses = {n: sum(1 for s in g.successors(n) if s in running) for n in ["input"] + nodes}
    owned: set[str] = set()
    inplace: set[str] = set()
    fused: dict[str, str] = {}
    epilogues: dict[str, tuple] = {}

    def only_reader(node: str, ops: tuple[str, ...]) -> str | None:
        """The one layer that reads node, if it is one of ops and neither is kept."""
        if uses[node] != 1 or node in keep:
            return None
        (after,) = [s for s in g.successors(node) if s in running]
        return after if g.nodes[after]["node"].op in ops and after not in keep else None

    for node in nodes:
        d = g.nodes[node]["node"]
        if node in fused:
            if fused[node] in owned:
                owned.add(node)
            continue
        op = OPS[d.op]
        if d.op == "conv":
            bn = only_reader(node, ("batchnorm",))
            act = only_reader(bn if bn else node, ("relu", "relu6"))
            if bn or act:
                epilogues[node] = (bn, act)
                if bn:
                    fused[bn] = node
                if act:
                    fused[act] = bn or node  # each the same array as the layer it reads
        elif op.inplace_ok and len(d.inputs) == 1:
            (i,) = d.inputs
            if i in owned and uses[i] == 1 and i not in keep:
                inplace.add(node)
            if d.op == "batchnorm" and (act := only_reader(node, ("relu", "relu6"))):
                fused[act] = node
        elif d.op == "add" and (act := only_reader(node, ("relu", "relu6"))):
            fused[act] = node  # the sum of a skip connection and the ReLU after it, in one pass
        if op.fresh_output or node in inplace:
            owned.add(node)
    return inplace, fused, epilogues


def inference_keep(g: nx.DiGraph) -> set[str]:
    """What an inference pass keeps whatever it is asked: the output and, before a trailing softmax, the logits."""
    out = g.graph["output"]
    data = g.nodes[out]["node"]
    return {out} | ({data.inputs[0]} if data.op == "softmax" else set())


def _inference_peak(g, nodes, data, size, batch: int, ws: dict, reuse: bool = False) -> tuple[int, int]:
    """The most elements alive at once when each output is freed after its last reader, each layer's
    scratch counted while it runs; and that scratch. With reuse, a layer that writes over its input (or is
    fused into the batch norm before it) takes that array over instead of adding one."""
    running = set(nodes)
    uses = {n: sum(1 for s in g.successors(n) if s in running) for n in data}
    inplace, fused, _ = reuse_plan(g, nodes, inference_keep(g)) if reuse else (set(), {}, {})
    taken = set()  # inputs whose array a later layer took over: freeing them frees nothing
    live = size["input"] * batch
    peak, at_peak = live, 0
    for node in nodes:
        if node in inplace or node in fused:
            taken.update(data[node].inputs)
        else:
            live += size[node] * batch
        if live + ws.get(node, 0) > peak:
            peak, at_peak = live + ws.get(node, 0), ws.get(node, 0)
        for i in dict.fromkeys(data[node].inputs):
            uses[i] -= 1
            if uses[i] <= 0 and i not in taken:
                live -= size[i] * batch
    return peak, at_peak


def kept_for_backward(data: dict, nodes: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """What a training forward keeps for backward (each op's `saves`): the tensors kept, each with the
    index of the earliest layer that keeps it (walking back, it is freed there), and per layer the
    elements per image of the masks, indices or scales it makes."""
    release: dict[str, int] = {}
    extra: dict[str, int] = {}
    for i, node in enumerate(nodes):
        d = data[node]
        for what in OPS[d.op].saves(d.attrs):
            if what == "extra":
                extra[node] = extra.get(node, 0) + math.prod(d.shape)
                continue
            for t in (d.inputs if what == "input" else [node]):
                release[t] = min(release.get(t, i), i)
    return release, extra


def _backward_peak(g, nodes, data, size, batch: int, ws: dict) -> tuple[int, int]:
    """The most elements alive at once in a training step: at the end of forward, everything the ops
    keep for backward (`Op.saves`); during backward, what is still kept (a tensor goes once the last
    layer that keeps it, walking back, is done) plus the gradients in flight."""
    index = {n: i for i, n in enumerate(nodes)}
    release, extras = kept_for_backward(data, nodes)
    extra = [extras.get(n, 0) for n in nodes]
    ends = [e for e in dict.fromkeys([g.graph["output"]] + [h["node"] for h in g.graph["aux_heads"]]) if e in index]
    for e in ends:
        release.setdefault(e, index[e])
    kept = sum(size[t] for t in release) + sum(extra)
    freed_at: dict[int, int] = {}
    for t, i in release.items():
        freed_at[i] = freed_at.get(i, 0) + size[t]
    peak, at_peak = kept * batch, 0
    pending = {e: size[e] for e in ends}
    in_flight = sum(pending.values())
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        if node in pending:
            made = sum(size[x] for x in dict.fromkeys(data[node].inputs) if x not in pending)
            here = (kept + in_flight + made) * batch + ws.get(node, 0)
            if here > peak:
                peak, at_peak = here, ws.get(node, 0)
            for x in dict.fromkeys(data[node].inputs):
                if x not in pending:
                    pending[x] = size[x]
            in_flight += made - pending.pop(node)
        kept -= freed_at.get(i, 0) + extra[i]
    return peak, at_peak


def available_bytes() -> int:
    """What this process may still allocate: MemAvailable, a cgroup's limit and RLIMIT_AS, whichever
    is least; the physical memory when none can be read."""
    candidates = []
    meminfo = _read_meminfo()
    if meminfo is not None:
        candidates.append(meminfo)
    cgroup = _cgroup_room()
    if cgroup is not None:
        candidates.append(cgroup)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        candidates.append(max(soft - _mapped_bytes(), 0))
    if not candidates:
        candidates.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return min(candidates)


def _read_meminfo() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _cgroup_room() -> int | None:
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:
            return None
        return max(int(limit) - usage, 0)
    return None


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


_last: "weakref.WeakKeyDictionary[nx.DiGraph, tuple]" = weakref.WeakKeyDictionary()


def check(g: nx.DiGraph, nodes: list[str], batch: int, grad: bool, itemsize: int = 4,
          optimizer: str | None = None, reuse: bool = False) -> Footprint:
    """The footprint, or a CnnError with the figure, the largest layer and a batch that fits. The
    estimate of a graph is kept for the next call with the same arguments (a training loop's steps)."""
    key = (tuple(nodes), batch, grad, itemsize, optimizer, reuse)
    cached = _last.get(g)
    if cached is not None and cached[0] == key:
        need = cached[1]
    else:
        need = estimate(g, nodes, batch, grad, itemsize, optimizer, reuse)
        _last[g] = (key, need)
    if need.total <= ALWAYS_FITS:
        return need
    have = available_bytes()
    if need.total > HEADROOM * have:
        fixed = need.total - need.activations
        fits = int((HEADROOM * have - fixed) // max(need.per_image, 1))
        shape = "×".join(map(str, g.nodes[need.largest]["node"].shape))
        what = "training step" if optimizer else ("forward and backward pass" if grad else "forward pass")
        hint = (f"use a batch of at most {fits}" if fits >= 1 else
                "the weights alone do not fit: make the largest layers smaller")
        raise CnnError(f"a {what} at batch {batch:,} needs about {human(need.total, 'B')} "
                       f"({need.describe()}), but only {human(have, 'B')} of memory is available; the largest "
                       f"output is {need.largest}'s, {shape} per image", hint=hint)
    return need


def check_weights(g: nx.DiGraph, itemsize: int = 4) -> None:
    """Before weights are made: refuse a network whose parameters alone cannot fit."""
    nodes = [n for n in g if n != "input"]
    need = sum(g.nodes[n]["node"].n_params + sum(math.prod(s) for s in g.nodes[n]["node"].state.values())
               for n in nodes) * itemsize
    have = available_bytes()
    if need > HEADROOM * have:
        largest = max(nodes, key=lambda n: g.nodes[n]["node"].n_params)
        raise CnnError(f"the weights alone need {human(need, 'B')}, but only {human(have, 'B')} of memory is "
                       f"available; the largest layer is {largest}, with {g.nodes[largest]['node'].n_params:,} parameters",
                       hint="make the largest layers smaller (a dense layer after a large feature map is the usual cause)")
