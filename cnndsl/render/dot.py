"""The diagram: a View drawn with graphviz, in the manner of a textbook figure.

Boxes coloured by op family (with a legend), tensor shapes on the edges, one cluster per block
instance titled with its parameter subtotal, Inception branches side by side, residual skips drawn
dashed beside a straight main path, aux heads in dashed clusters marked "train only".
"""

from __future__ import annotations

import html
import itertools
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import graphviz
import networkx as nx

from ..errors import CnnError
from ..files import check_output, write_bytes
from ..format import block_call
from ..ops import OPS, fmt_shape
from .view import Edge, Unit, View, build_view

FONT = "Helvetica,Arial,sans-serif"
FAMILY_COLOURS = {  # fill colours, light enough to print
    "conv": ("#cfe2f3", "convolution"),
    "pool": ("#d9ead3", "pooling"),
    "dense": ("#fce5cd", "dense"),
    "norm": ("#e4dcf5", "normalization"),
    "activation": ("#fff2cc", "activation"),
    "regularization": ("#f4cccc", "dropout"),
    "reshape": ("#eeeeee", "reshape"),
    "merge": ("#ffffff", "merge"),
    "output": ("#ffe599", "softmax"),
    "block": ("#f3f3f3", "block (folded)"),
}
EDGE_STYLE = {
    "main": dict(color="#444444"),
    "identity": dict(color="#1f77b4", style="dashed", weight="0", penwidth="1.4"),
    "projection": dict(color="#1f77b4", style="dashed", weight="0", penwidth="1.4", fontcolor="#1f77b4"),
    "skip": dict(color="#1f77b4", style="dashed", penwidth="1.4"),
    "aux": dict(color="#888888", style="dashed"),
}
FORMATS = ("svg", "png", "pdf", "dot")
DOT_MISSING = ("Graphviz's `dot` program is not installed, so only .dot output works; install it with "
               "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
               "`conda install graphviz`")


def diagram(net, depth: int | None = None, rankdir: str = "TB") -> graphviz.Digraph:
    """The graphviz Digraph of a Network (deterministic: the same input gives the same DOT)."""
    g: nx.DiGraph = net.graph
    view = build_view(g, depth)
    if len(view.units) > MAX_BOXES:
        raise CnnError(f"the diagram would have {len(view.units):,} boxes, more than Graphviz lays out in "
                       f"reasonable time ({MAX_BOXES:,})", hint="fold the blocks with --depth 0 or --depth 1")
    dot = graphviz.Digraph(net.name, graph_attr=dict(
        rankdir=rankdir, fontname=FONT, fontsize="11", nodesep="0.25", ranksep="0.32", newrank="true",
        label=_title(net), labelloc="t", labeljust="l"),
        node_attr=dict(shape="box", style="rounded,filled", fontname=FONT, fontsize="10", margin="0.1,0.04",
                       penwidth="0.8", color="#555555"),
        edge_attr=dict(fontname=FONT, fontsize="8", fontcolor="#555555", arrowsize="0.6"))
    by_path: dict[tuple[str, ...], list[Unit]] = {}
    for unit in view.units.values():
        by_path.setdefault(unit.clusters, []).append(unit)
    headers = _headers(view)
    edges = _through_headers(view, headers)
    spine = _spine(edges, view.unit_of[net.output])
    _emit(dot, (), _cluster_tree(view), by_path, _cluster_params(g), g, headers, spine)
    _emit_outputs(dot, view, net)
    for heads in _branch_heads(g, view):
        with dot.subgraph() as same:
            same.attr(rank="same")
            for unit in heads:
                same.node(unit)
    for edge in edges:
        _emit_edge(dot, edge, view, g)
    dot.node("legend", _legend(view, g), shape="plaintext", style="", margin="0")
    return dot


MAX_BOXES = 3000       # Graphviz lays out more boxes than this for minutes: fold the blocks, or refuse
DOT_TIMEOUT = 60.0     # seconds: a layout that takes longer is stopped, never left hanging


def render(net, out: str | Path, depth: int | None = None, rankdir: str = "TB") -> Path:
    """Write the diagram; the format is the file's extension (.svg, .png, .pdf, .dot). Written
    atomically: a failure leaves an existing file as it was."""
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CnnError(f"cannot tell the format of '{out}': use a .svg, .png, .pdf or .dot file name")
    check_output(out, "the diagram")
    dot = diagram(net, depth, rankdir)
    data = dot.source.encode() if fmt == "dot" else layout(dot.source, fmt)
    return write_bytes(out, data, "the diagram")


def layout(source: str, fmt: str, timeout: float = DOT_TIMEOUT) -> bytes:
    """Graphviz's `dot` on DOT source, with a time limit."""
    exe = shutil.which("dot")
    if exe is None:
        raise CnnError(DOT_MISSING)
    try:
        run = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CnnError(f"Graphviz took more than {timeout:g} s to lay the diagram out",
                       hint="draw fewer boxes with --depth 0 or --depth 1") from None
    if run.returncode != 0:
        message = run.stderr.decode(errors="replace").strip().splitlines()
        raise CnnError(f"Graphviz could not draw the diagram: {message[-1] if message else run.returncode}")
    return run.stdout


def svg(net, depth: int | None = None) -> str:
    return layout(diagram(net, depth).source, "svg").decode()


# ---- pieces ----------------------------------------------------------------------------------------

def _runs(words) -> list[str]:
    """Repeated neighbours folded: ReLU, ReLU, ReLU → 'ReLU ×3'."""
    out: list[list] = []
    for word in words:
        if out and out[-1][0] == word:
            out[-1][1] += 1
        else:
            out.append([word, 1])
    return [w if k == 1 else f"{w} ×{k}" for w, k in out]


def _title(net) -> str:
    aux = net.param_count - net.inference_param_count
    extra = f" ({net.inference_param_count:,} at inference)" if aux else ""
    return (f"{net.name} — {net.param_count:,} params{extra} · {net.macs:,} MACs")


def _branch_heads(g: nx.DiGraph, view: View) -> list[list[str]]:
    """The first box of each branch of a concat/add, to be drawn on one rank, in source order."""
    rows = []
    for node, data in g.nodes(data="node"):
        heads = list(dict.fromkeys(view.unit_of[h] for h in data.branch_heads if h))
        if len(heads) > 1 and all(view.units[h].kind != "block" for h in heads):
            rows.append(heads)
    return rows


def _headers(view: View) -> dict[str, str]:
    """A title box at the top of each cluster (block instance, aux head) that its input flows into: no
    edge then crosses the title. cluster → header node id."""
    names = {c for unit in view.units.values() for c in unit.clusters}
    return {name: f"{name}.__title__" for name in sorted(names, key=lambda n: (n.count("."), n))}


def _through_headers(view: View, headers: dict[str, str]) -> list[Edge]:
    """Edges that enter a cluster from one outside box are routed through the cluster's title box:
    outside → title (with the tensor's shape), title → each box it fed (a skip keeps its style).
    Clusters are taken outermost first, so nested titles chain."""
    member = {u.id: set(u.clusters) for u in view.units.values()}  # box → the clusters it lies in
    for unit in view.units.values():
        for i, cluster in enumerate(unit.clusters):
            member.setdefault(headers[cluster], set(unit.clusters[:i + 1]))
    edges: dict[int, Edge] = {}  # insertion-ordered, so the final order is the order edges were made
    entering: dict[str, set[int]] = {cluster: set() for cluster in headers}  # cluster → edges entering it

    keys = itertools.count()

    def add(edge: Edge) -> None:
        key = next(keys)
        edges[key] = edge
        for cluster in member[edge.dst] - member[edge.src]:
            entering.setdefault(cluster, set()).add(key)

    def remove(key: int) -> None:
        edge = edges.pop(key)
        for cluster in member[edge.dst] - member[edge.src]:
            entering[cluster].discard(key)

    for edge in view.edges:
        add(edge)
    for cluster, header in headers.items():
        moved = sorted(entering[cluster])
        into = [edges[k] for k in moved]
        sources = {e.src for e in into}
        if len(sources) != 1 or any(e.kind == "aux" and not cluster.startswith("aux") for e in into):
            continue
        first = next((e for e in into if e.kind == "main"), into[0])
        for key in moved:
            remove(key)
        kind = "aux" if all(e.kind == "aux" for e in into) else "main"
        add(Edge(first.src, header, first.tensor, kind))
        for e in into:
            add(Edge(header, e.dst, e.tensor if e.kind == "projection" else None, "main" if e.kind == "aux" else e.kind,
                     e.via))
    return list(edges.values())


def _cluster_tree(view: View) -> dict:
    tree: dict = {}
    for unit in view.units.values():
        node = tree
        for name in unit.clusters:
            node = node.setdefault(name, {})
    return tree


def _spine(edges: list[Edge], output: str) -> set[str]:
    """The boxes every main path from the input to the output passes through (skips and projections
    aside): drawn in one straight column (Graphviz's `group`), however deep the network, with branches
    and skips beside it."""
    dag = nx.DiGraph((e.src, e.dst) for e in edges if e.kind == "main")
    if "input" not in dag or output not in dag:
        return set()
    dominators = nx.immediate_dominators(dag, "input")
    spine, node = {output}, output
    while node != "input":
        node = dominators[node]
        spine.add(node)
    return spine


def _emit(dot: graphviz.Digraph, path: tuple[str, ...], tree: dict, by_path: dict, params: Counter,
          g: nx.DiGraph, headers: dict[str, str], spine: set[str]) -> None:
    for unit in by_path.get(path, ()):
        dot.node(unit.id, _label(unit, g), **_node_attrs(unit, g), **({"group": "spine"} if unit.id in spine else {}))
    for name, sub in tree.items():
        with dot.subgraph(name=f"cluster_{name}") as c:
            attrs = _cluster_attrs(name, params[name], g)
            title = attrs.pop("label")
            c.attr(**attrs, label="")
            head, _, rest = title.partition(" · ")
            c.node(headers[name], f"<<b>{html.escape(head)}</b> · {html.escape(rest)}>", shape="plaintext", style="",
                   fontsize="10", fontcolor=attrs.get("fontcolor", "#333333"), margin="0.08,0.04", height="0.2",
                   **({"group": "spine"} if headers[name] in spine else {}))
            _emit(c, path + (name,), sub, by_path, params, g, headers, spine)


def _cluster_params(g: nx.DiGraph) -> Counter:
    """Parameters per block instance and per aux head, in one pass over the layers."""
    params: Counter = Counter()
    for _, d in g.nodes(data="node"):
        for name in set(d.blocks) | ({d.aux} if d.aux else set()):
            params[name] += d.n_params
    return params


def _cluster_attrs(name: str, params: int, g: nx.DiGraph) -> dict:
    heads = {h["name"]: h for h in g.graph["aux_heads"]}
    if name in heads:
        label = f"{name} — aux head, train only, weight {heads[name]['weight']:g} · {params:,} params"
        return dict(label=label, style="dashed,rounded", color="#888888", fontcolor="#666666", fontsize="10")
    call = block_call(g.graph["blocks"][name])
    return dict(label=f"{name.rsplit('.', 1)[-1]}: {call} · {params:,} params", style="rounded",
                color="#999999", fontcolor="#333333", fontsize="10", labeljust="l")


def _describe(node: str, g: nx.DiGraph, per_group: bool = False) -> str:
    data = g.nodes[node]["node"]
    if per_group:  # one group's share of a grouped convolution: conv 128 5×5 of conv 256 5×5 g2
        a = dict(data.attrs, out_channels=data.attrs["out_channels"] // data.attrs["groups"], groups=1)
        return OPS["conv"].describe(a)
    if data.op == "concat":
        parts = [str(g.nodes[i]["node"].shape[0]) for i in data.inputs]
        return f"concat {'+'.join(parts)} = {data.shape[0]}"
    if data.op == "add":
        return "⊕ residual" if data.skip else "⊕ add"
    op = OPS[data.op]
    text = op.describe(data.attrs)
    return op.display if op.display and text in (op.name, *op.aliases) else text


def _label(unit: Unit, g: nx.DiGraph) -> str:
    if unit.kind == "input":
        return f"<<b>input</b><br/>{fmt_shape(g.nodes[unit.id]['node'].shape)}>"
    params = sum(g.nodes[n]["node"].n_params for n in unit.nodes)
    small = f"{params:,} params" if params else ""
    if unit.kind == "block":
        call = block_call(g.graph["blocks"][unit.blocks[0]])
        first, last = unit.blocks[0].rsplit(".", 1)[-1], unit.blocks[-1].rsplit(".", 1)[-1]
        name = first if unit.count == 1 else f"{first} … {last}"
        times = f" ×{unit.count}" if unit.count > 1 else ""
        return (f"<<b>{html.escape(call)}{times}</b><br/>"
                f"<font point-size='8' color='#555555'>{html.escape(name)} · {small or 'no params'}</font>>")
    main = " · ".join(_runs(_describe(n, g) for n in unit.nodes))
    name = _short_name(unit)
    sub = " · ".join(x for x in (name, small) if x)
    first = g.nodes[unit.nodes[0]]["node"]
    groups = first.attrs.get("groups", 1) if first.op == "conv" else 1
    if groups == 2:  # the two towers of AlexNet's figure 2: one half of the filters on each GPU
        half = " · ".join(_runs([_describe(unit.nodes[0], g, per_group=True)] + [_describe(n, g) for n in unit.nodes[1:]]))
        cell = (f"<td border='1' style='rounded' bgcolor='{FAMILY_COLOURS['conv'][0]}' cellpadding='3'>"
                f"<b>{html.escape(half)}</b></td>")
        return (f"<<table border='0' cellspacing='3' cellpadding='0'><tr>{cell}{cell}</tr>"
                f"<tr><td colspan='2'><font point-size='8' color='#555555'>groups=2: two towers, each on half the "
                f"channels (the paper's two GPUs) · {html.escape(sub)}</font></td></tr></table>>")
    if groups > 2:
        sub += f" · groups={groups}: {groups} slices of {first.params['weight'][1]} input channels"
    return f"<<b>{html.escape(main)}</b><br/><font point-size='8' color='#555555'>{html.escape(sub)}</font>>"


def _short_name(unit: Unit) -> str:
    """The box's layer name within its block: `conv1`, `b2.conv2`, `shortcut.conv1`."""
    inner = unit.clusters[-1] + "." if unit.clusters else ""
    return unit.id[len(inner):] if unit.id.startswith(inner) else unit.id


def _node_attrs(unit: Unit, g: nx.DiGraph) -> dict:
    if unit.kind == "input":
        return dict(shape="oval", fillcolor="#ffffff")
    if unit.kind == "block":
        return dict(fillcolor=FAMILY_COLOURS["block"][0], penwidth="1.2")
    family = g.nodes[unit.nodes[0]]["node"].impl.family
    attrs = dict(fillcolor=FAMILY_COLOURS.get(family, ("#ffffff",))[0])
    if family == "merge":
        attrs.update(shape="box", style="rounded")
    if g.out_degree(unit.out) > 1:
        attrs["ordering"] = "out"  # branches side by side, in source order
    return attrs


def _emit_edge(dot: graphviz.Digraph, edge: Edge, view: View, g: nx.DiGraph) -> None:
    attrs = dict(EDGE_STYLE[edge.kind])
    label = fmt_shape(g.nodes[edge.tensor]["node"].shape) if edge.tensor else ""
    if edge.kind == "identity":
        label = f"identity {label}".strip()
    if edge.kind == "projection":
        layers = " · ".join(_runs(_describe(n, g) for n in edge.via))
        params = sum(g.nodes[n]["node"].n_params for n in edge.via)
        label = f"{layers} projection\n{params:,} params · {label}" if label else f"{layers} projection"
    if label:
        attrs["label"] = f" {label}"
    if edge.kind == "main":
        attrs["weight"] = "4"  # the main path straight; skips and projections bend beside it
    dot.edge(edge.src, edge.dst, **attrs)


def _emit_outputs(dot: graphviz.Digraph, view: View, net) -> None:
    g = net.graph
    out = view.unit_of[net.output]
    dot.node("output", f"<<b>output</b><br/>{fmt_shape(net.output_shape)}>", shape="oval", fillcolor="#ffffff")
    dot.edge(out, "output", label=f" {fmt_shape(net.output_shape)}")
    for head in net.aux_heads:
        name = f"{head['name']}.loss"
        dot.node(name, f"<<b>aux loss</b> ×{head['weight']:g}<br/>{fmt_shape(g.nodes[head['node']]['node'].shape)}>",
                 shape="oval", fillcolor="#ffffff", style="dashed", color="#888888")
        dot.edge(view.unit_of[head["node"]], name, style="dashed", color="#888888")


def _legend(view: View, g: nx.DiGraph) -> str:
    families = []
    for unit in view.units.values():
        fam = "block" if unit.kind == "block" else g.nodes[unit.nodes[0]]["node"].impl.family if unit.kind != "input" else None
        if fam in FAMILY_COLOURS and fam not in families:
            families.append(fam)
    rows = "".join(f"<tr><td bgcolor='{FAMILY_COLOURS[f][0]}' border='1' color='#555555' width='14'> </td>"
                   f"<td align='left'>{FAMILY_COLOURS[f][1]}</td></tr>"
                   for f in sorted(families, key=list(FAMILY_COLOURS).index))
    kinds = {e.kind for e in view.edges}
    if "identity" in kinds or "skip" in kinds:
        rows += "<tr><td><font color='#1f77b4'>- -</font></td><td align='left'>skip connection</td></tr>"
    if "projection" in kinds:
        rows += "<tr><td><font color='#1f77b4'>- -</font></td><td align='left'>projection shortcut</td></tr>"
    if g.graph["aux_heads"]:
        rows += "<tr><td><font color='#888888'>- -</font></td><td align='left'>aux head (train only)</td></tr>"
    return (f"<<table border='0' cellborder='0' cellspacing='2' cellpadding='1'><tr><td colspan='2' align='left'>"
            f"<b>legend</b></td></tr>{rows}</table>>")

