"""One layer of a built network: what the builder resolved, inferred and counted for it.

`net.graph` is a networkx DiGraph whose nodes each carry one `Node` under the attribute "node":

    >>> node = net.graph.nodes["layer2_0.conv1"]["node"]     # or net.node("layer2_0.conv1")
    >>> node.op, node.shape, node.params["weight"], node.macs
    ('conv', (128, 28, 28), (128, 64, 3, 3), 57802752)

A Node is frozen: consumers read it, never change it, so the diagram, the summary, the memory estimate
and the engine all see the same facts. Its mappings (attrs, params, state) are read-only views.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import SourcePosition
from ..ops import OPS, Op

Shape = tuple[int, ...]
NO_ENTRIES: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A layer (merges included) or the network's input."""

    name: str  # unique: the scope's prefix plus the label or a generated name (inception3a.b2.conv2)
    op: str  # the op's name, aliases resolved: bn → batchnorm
    attrs: Mapping[str, Any]  # every argument and option, resolved, defaults filled in
    inputs: tuple[str, ...]  # the input nodes, in order (a node may appear twice: add @x @x)
    shape: Shape  # the output's shape per image: (C, H, W) or (F,)
    params: Mapping[str, Shape]  # trained parameters by name: {"weight": (64, 3, 7, 7), "bias": (64,)}
    state: Mapping[str, Shape]  # buffers saved with the weights but not trained (running statistics)
    n_params: int  # per network, not per image: the parameters' element count
    macs: int  # multiply-accumulates per image
    flops: int  # floating-point operations per image
    act_bytes: int  # the output's bytes per image (float32)
    rf: tuple[int, int]  # receptive field in input pixels (h, w)
    jump: tuple[int, int]  # input pixels between neighbouring outputs (h, w)
    pos: SourcePosition  # the statement's span in its file (line, column, end line, end column)
    scope: str  # the dotted naming prefix, without the trailing dot ("" at the top)
    blocks: tuple[str, ...]  # the enclosing block instances, outermost first
    aux: str | None  # the aux head it belongs to, or None
    label: str | None  # the user's label, if any
    role: str  # "main", or "shortcut" for the layers of a residual's projection
    skip: str | None = None  # the add of a `residual`: "identity" or "projection"
    stmt: str | None = None  # how a merge reads in messages (add @a, residual); None for a layer
    branch_heads: tuple[str | None, ...] = ()  # a concat/add/mul of branches: each branch's first node

    @property
    def line(self) -> int:
        return self.pos.line

    @property
    def train_only(self) -> bool:
        """Inside an aux head: runs in training only."""
        return self.aux is not None

    @property
    def impl(self) -> "Op":
        """The op's definition (cnndsl/ops/): its shape rule, costs, kernels, drawing and PyTorch form."""
        return OPS[self.op]
