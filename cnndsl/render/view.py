"""What a diagram shows, before any drawing: the graph's layers grouped into units.

A unit is one box of the picture: a layer with the activations and batch norm that follow it fused in
("conv 64 3×3 /2 · BN · ReLU"), or a whole block instance folded to one node below the chosen depth,
with consecutive identical instances folded further ("basic(64) ×2").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..ops import OPS


@dataclass
class Unit:
    id: str
    kind: str  # "input" | "layer" | "block"
    nodes: list[str]
    clusters: tuple[str, ...]  # enclosing expanded block instances and aux heads, outermost first
    out: str  # the graph node whose output leaves the unit
    blocks: list[str] = field(default_factory=list)  # for a folded block: its instances

    @property
    def count(self) -> int:
        return len(self.blocks) or 1


@dataclass
class Edge:
    src: str
    dst: str
    tensor: str | None  # the graph node whose output the edge carries (None: no label)
    kind: str = "main"  # "main" | "identity" (a residual's skip) | "skip" (an @label merge) | "aux"
    # | "projection" (a residual's shortcut, its layers drawn on the edge)
    via: list[str] = field(default_factory=list)  # a projection's layers


@dataclass
class View:
    units: dict[str, Unit]
    edges: list[Edge]
    unit_of: dict[str, str]


def build_view(g: nx.DiGraph, depth: int | None = None) -> View:
    blocks = g.graph["blocks"]

    def block_depth(name: str) -> int:
        d, parent = 0, blocks[name]["parent"]
        while parent:
            d, parent = d + 1, blocks[parent]["parent"]
        return d

    def clusters_of(node: str, collapsed_at: int | None) -> tuple[str, ...]:
        data = g.nodes[node]["node"]
        names = [b for b in data.blocks if collapsed_at is None or block_depth(b) < collapsed_at]
        if data.aux:
            names.append(data.aux)
        return tuple(sorted(set(names), key=lambda n: (n.count("."), len(n))))

    units: dict[str, Unit] = {}
    unit_of: dict[str, str] = {}
    for node, data in g.nodes(data="node"):
        collapsed = next((b for b in data.blocks if depth is not None and block_depth(b) >= depth), None)
        if data.op == "input":
            units[node] = Unit(node, "input", [node], (), node)
            unit_of[node] = node
        elif data.role == "shortcut" and not collapsed:
            # a residual's projection is drawn on its skip edge, beside the main path: its layers belong
            # to the box the skip leaves from
            unit_of[node] = unit_of[data.inputs[0]]
        elif collapsed:
            unit = units.get(collapsed)
            if unit is None:
                unit = units[collapsed] = Unit(collapsed, "block", [], clusters_of(node, depth), node, [collapsed])
                unit.clusters = tuple(c for c in unit.clusters if c != collapsed and not c.startswith(collapsed + "."))
            unit.nodes.append(node)
            unit.out = node if data.aux == blocks[collapsed]["aux"] else unit.out
            unit_of[node] = collapsed
        elif _fuses_into(g, node, units, unit_of):
            unit = units[unit_of[data.inputs[0]]]
            unit.nodes.append(node)
            unit.out = node
            unit_of[node] = unit.id
        else:
            units[node] = Unit(node, "layer", [node], clusters_of(node, depth), node)
            unit_of[node] = node
    if depth is not None:
        _fold_repeats(g, units, unit_of)
    return View(units, _edges(g, unit_of, units), unit_of)


def _fuses_into(g: nx.DiGraph, node: str, units: dict, unit_of: dict) -> bool:
    """An activation or batch norm joins the box of the layer before it when nothing else reads that layer."""
    data = g.nodes[node]["node"]
    if not OPS[data.op].fuses or len(data.inputs) != 1:
        return False
    prev = data.inputs[0]
    unit = units.get(unit_of.get(prev))
    return (unit is not None and unit.kind == "layer" and unit.out == prev and g.out_degree(prev) == 1
            and g.nodes[prev]["node"].blocks == data.blocks and g.nodes[prev]["node"].aux == data.aux)


def _fold_repeats(g: nx.DiGraph, units: dict[str, Unit], unit_of: dict[str, str]) -> None:
    """Consecutive instances of one block with the same arguments, each feeding only the next, fold to ×N."""
    info = g.graph["blocks"]
    order = [u for u in units.values() if u.kind == "block"]
    for unit in order:
        if unit.id not in units:
            continue
        while True:
            succ = {unit_of[s] for s in g.successors(unit.out)}
            if len(succ) != 1:
                break
            nxt = units[next(iter(succ))]
            if nxt.kind != "block" or nxt.clusters != unit.clusters:
                break
            a, b = info[unit.blocks[0]], info[nxt.blocks[0]]
            preds = {unit_of[i] for n in nxt.nodes for i in g.nodes[n]["node"].inputs} - {nxt.id}
            if (a["block"], a["args"]) != (b["block"], b["args"]) or preds != {unit.id}:
                break
            if any(unit_of[s] not in (unit.id, nxt.id) for n in unit.nodes for s in g.successors(n)):
                break
            unit.nodes += nxt.nodes
            unit.blocks += nxt.blocks
            unit.out = nxt.out
            for n in nxt.nodes:
                unit_of[n] = unit.id
            del units[nxt.id]


def _edges(g: nx.DiGraph, unit_of: dict[str, str], units: dict[str, Unit]) -> list[Edge]:
    """One edge per pair of boxes, its kind from the graph's edge roles (set by the builder)."""
    edges: dict[tuple[str, str], Edge] = {}
    for node, data in g.nodes(data="node"):
        dst = unit_of[node]
        if dst not in units:  # a projection's layer: drawn on the edge
            continue
        for src_node in data.inputs:
            src = unit_of[src_node]
            if src == dst or (src, dst) in edges:
                continue
            role = g.edges[src_node, node].get("role", "main")
            kind = {"skip": "identity" if data.skip == "identity" else "skip"}.get(role, role)
            edges[(src, dst)] = Edge(src, dst, src_node, kind, _projection(g, src_node) if role == "projection" else [])
    return list(edges.values())


def _projection(g: nx.DiGraph, last: str) -> list[str]:
    """The layers of a residual's shortcut, first to last, from its output back to the residual's input."""
    chain = []
    node = last
    while g.nodes[node]["node"].role == "shortcut":
        chain.append(node)
        node = g.nodes[node]["node"].inputs[0]
    return chain[::-1]


MAX_RANKS = 50  # boxes along the longest path: taller than this, a figure no longer reads on one page


def ranks(view: View) -> int:
    """The number of boxes along the longest path: the figure's height in boxes."""
    dag = nx.DiGraph()
    dag.add_nodes_from(view.units)
    dag.add_edges_from((e.src, e.dst) for e in view.edges)
    return nx.dag_longest_path_length(dag) + 1 if len(dag) else 0


def auto_depth(net) -> int | None:
    """None (every layer) when the figure is at most MAX_RANKS boxes tall; else the deepest folding
    that is (1, then 0)."""
    if ranks(build_view(net.graph)) <= MAX_RANKS:
        return None
    for depth in (1, 0):
        if ranks(build_view(net.graph, depth)) <= MAX_RANKS:
            return depth
    return 0
