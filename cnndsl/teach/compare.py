"""`cnndsl compare A B [C …]`: networks side by side — what each costs to store, to compute and to train,
how deep it is and what its output sees — and, with --layers, layer by layer."""

from __future__ import annotations

import networkx as nx

from ..format import fmt_rf, fmt_shape, human

WEIGHTED = ("conv", "dense")


def depth(net) -> int:
    """Weight layers (conv, dense) on the longest path from the input to the main output: VGG-16's 16,
    ResNet-18's 18, GoogLeNet's 22 (an Inception module counts its 1×1 reduction and its 3×3 or 5×5)."""
    g = net.graph
    keep = nx.ancestors(g, net.output) | {net.output}
    best: dict[str, int] = {}
    for n in g:  # a topological order
        if n not in keep:
            continue
        here = 1 if net.node(n).op in WEIGHTED else 0
        best[n] = here + max((best[p] for p in g.predecessors(n) if p in best), default=0)
    return best[net.output]


METRICS = (  # key, row label, unit
    ("params", "parameters", ""),
    ("inference_params", "parameters at inference", ""),
    ("macs", "MACs per image", ""),
    ("flops", "FLOPs per image", ""),
    ("activations", "activation memory per image", "B"),
    ("training_memory", "training step memory", "B"),
    ("depth", "depth (conv + dense layers)", ""),
    ("layers", "layers", ""),
    ("receptive_field", "receptive field of the output", ""),
    ("output", "output shape", ""),
)


def metrics(net, batch: int) -> dict:
    out = net.node(net.output)
    return {"name": net.name, "source": net.source, "params": net.param_count,
            "inference_params": net.inference_param_count, "macs": net.macs, "flops": net.flops,
            "activations": net.activation_bytes, "training_memory": net.footprint(batch).total,
            "depth": depth(net), "layers": len(net.layers), "receptive_field": list(out.rf),
            "output": list(net.output_shape)}


def compare(nets: list, batch: int = 32) -> dict:
    return {"batch": batch, "networks": [metrics(n, batch) for n in nets]}


def _cell(key: str, value, unit: str) -> str:
    if key == "receptive_field":
        return fmt_rf(tuple(value))
    if key == "output":
        return fmt_shape(value)
    if key in ("depth", "layers"):
        return str(value)
    return f"{value:,}" if not unit else human(value, unit)


def compare_rows(result: dict) -> list[tuple[str, ...]]:
    rows = []
    for key, label, unit in METRICS:
        if key == "training_memory":
            label = f"{label} (Adam, batch {result['batch']})"
        cells = [_cell(key, m[key], unit) for m in result["networks"]]
        if key in ("params", "macs") and len(result["networks"]) > 1:
            base = result["networks"][0][key]
            cells = [c + (f" ({m[key] / base:.2f}×)" if base and i else "") for i, (c, m) in
                     enumerate(zip(cells, result["networks"]))]
        rows.append((label, *cells))
    return rows


TRANSPOSE_AT = 5  # from this many networks on, one row per network (a column each would be too wide)


def compare_text(result: dict) -> str:
    from ..summary import table_lines
    if len(result["networks"]) >= TRANSPOSE_AT:
        return _by_network_text(result)
    names = [m["name"] for m in result["networks"]]
    columns = (("", "left"),) + tuple((n, "right") for n in names)
    rows = [(r, None) for r in compare_rows(result)]
    note = f"ratios against {names[0]}" if len(names) > 1 else ""
    lines = table_lines("Networks side by side" + (f" ({note})" if note else ""), columns, rows)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _by_network_text(result: dict) -> str:
    from ..summary import table_lines
    keys = [(k, label, unit) for k, label, unit in METRICS if k != "output"]
    heads = {"params": "Params", "inference_params": "Inference", "macs": "MACs", "flops": "FLOPs",
             "activations": "Activations", "training_memory": f"Train (b{result['batch']})", "depth": "Depth",
             "layers": "Layers", "receptive_field": "RF"}
    columns = (("Network", "left"),) + tuple((heads[k], "right") for k, _, _ in keys)
    rows = []
    for m in result["networks"]:
        cells = [m["name"]]
        for k, _, unit in keys:
            v = m[k]
            cells.append(fmt_rf(tuple(v)) if k == "receptive_field" else str(v) if k in ("depth", "layers")
                         else human(v, unit))
        rows.append((tuple(cells), None))
    lines = table_lines("Networks side by side (per image; training memory: a step with Adam at batch "
                        f"{result['batch']})", columns, rows)
    return "\n".join(line.rstrip() for line in lines) + "\n"


# ---- layer by layer --------------------------------------------------------------------------------

def _position_keys(net) -> list[tuple[str, str]]:
    """(key, layer) in source order: a layer inside a block instance is keyed by the instance and its
    place among the instance's layers (`layer1_0 #3`), one outside by its place among those (`#3`)."""
    counts: dict[str, int] = {}
    keys = []
    for n in net.layers:
        node = net.node(n)
        scope = node.blocks[0] if node.blocks else (node.aux or "")
        counts[scope] = counts.get(scope, 0) + 1
        keys.append((f"{scope} #{counts[scope]}" if scope else f"#{counts[scope]}", n))
    return keys


def layer_rows(nets: list) -> list[dict]:
    """One row per position, in the order the positions first appear: what each network has there."""
    from ..summary import describe
    order: list[str] = []
    by_net = []
    for net in nets:
        table = {}
        for key, n in _position_keys(net):
            node = net.node(n)
            table[key] = {"layer": n, "op": describe(node), "shape": list(node.shape), "params": node.n_params,
                          "macs": node.macs}
            if key not in order:
                order.append(key)
        by_net.append(table)
    rows = []
    for key in order:
        cells = [t.get(key) for t in by_net]
        seen = [(c["op"], tuple(c["shape"]), c["params"]) if c else None for c in cells]
        rows.append({"position": key, "layers": cells, "differs": len(set(seen)) > 1})
    return rows


def layers_text(nets: list, rows: list[dict], only_differences: bool = False) -> str:
    from ..summary import table_lines
    columns = [("position", "left")]
    for net in nets:
        columns += [(f"{net.name}", "left"), ("output", "right"), ("params", "right")]
    columns.append(("", "left"))
    body = []
    for row in rows:
        if only_differences and not row["differs"]:
            continue
        cells = [row["position"]]
        for c in row["layers"]:
            cells += [c["op"], fmt_shape(c["shape"]), f"{c['params']:,}"] if c else ["—", "", ""]
        cells.append("≠" if row["differs"] else "")
        body.append((tuple(cells), None))
    differ = sum(r["differs"] for r in rows)
    title = f"Layer by layer: {differ} of {len(rows)} positions differ (≠)"
    return "\n".join(line.rstrip() for line in table_lines(title, tuple(columns), body)) + "\n"


# ---- the picture -----------------------------------------------------------------------------------

BARS = (("params", "parameters"), ("macs", "MACs\nper image"), ("activations", "activations\n(bytes per image)"),
        ("training_memory", "training step\n(bytes)"))


def plot(result: dict, path) -> None:
    """Grouped bars of the costs (a log axis when they span more than 30×) and parameters against MACs."""
    from ..plots import human_axis, pyplot, save, short
    plt = pyplot()
    nets = result["networks"]
    many = len(nets) > 6
    colours = plt.get_cmap("tab20" if len(nets) > 10 else "tab10")
    colour = lambda i: colours(i % colours.N)  # noqa: E731
    fig, (bars, scatter) = plt.subplots(1, 2, figsize=(13, 5.4) if many else (11, 4.6),
                                        gridspec_kw={"width_ratios": [1.3, 1] if many else [1.5, 1]})
    width = 0.8 / len(nets)
    values = [m[k] for m in nets for k, _ in BARS if m[k] > 0]
    log = bool(values) and max(values) / min(values) > 30
    for i, m in enumerate(nets):
        xs = [j + (i - (len(nets) - 1) / 2) * width for j in range(len(BARS))]
        rects = bars.bar(xs, [max(m[k], 1e-9) for k, _ in BARS], width, label=m["name"], color=colour(i))
        if not many:
            bars.bar_label(rects, [short(m[k]) for k, _ in BARS], fontsize=7, padding=2, rotation=90)
    bars.set_xticks(range(len(BARS)), [label for _, label in BARS], fontsize=9)
    if log:
        bars.set_yscale("log")
        bars.set_ylim(top=bars.get_ylim()[1] * (2 if many else 8))
    else:
        bars.set_ylim(top=bars.get_ylim()[1] * 1.25)
        human_axis(bars)
    bars.set_ylabel("count or bytes" + (" (log scale)" if log else ""))
    bars.set_title(f"What each network costs (training memory: Adam, batch {result['batch']})")
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(nets), 6 if many else 5), frameon=False)
    bars.grid(axis="x", visible=False)
    for i, m in enumerate(nets):
        scatter.scatter(m["macs"], m["params"], s=50, color=colour(i), zorder=3, edgecolor="white", linewidth=0.5)
    spread = lambda k: max(m[k] for m in nets) / max(min(m[k] for m in nets), 1)  # noqa: E731
    if spread("macs") > 30:
        scatter.set_xscale("log")
    else:
        human_axis(scatter, "x")
    if spread("params") > 30:
        scatter.set_yscale("log")
    else:
        human_axis(scatter)
    _pad_limits(scatter, [m["macs"] for m in nets], [m["params"] for m in nets])
    _labels(fig, scatter, [(m["macs"], m["params"], m["name"]) for m in nets])
    scatter.set_xlabel("MACs per image" + (" (log)" if spread("macs") > 30 else ""))
    scatter.set_ylabel("parameters" + (" (log)" if spread("params") > 30 else ""))
    scatter.set_title("Parameters are not compute")
    save(fig, path)


def _labels(fig, ax, points) -> None:
    """Each point's name beside it, at the first of a few offsets where it overlaps no name placed yet."""
    offsets = [(6, 4), (6, -11), (-8, 5), (-8, -12), (6, 14), (6, -21), (-8, 15), (-8, -22)]
    renderer = fig.canvas.get_renderer()
    placed = []
    for x, y, name in sorted(points, key=lambda p: (-p[1], p[0])):
        for dx, dy in offsets:
            text = ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=8,
                               ha="left" if dx > 0 else "right")
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            text.remove()
        else:
            placed.append(ax.annotate(name, (x, y), textcoords="offset points", xytext=offsets[0], fontsize=8)
                          .get_window_extent(renderer))


def _pad_limits(ax, xs, ys) -> None:
    """Room around the points for their labels (multiplicative on a log axis)."""
    for values, get, set_ in ((xs, ax.get_xscale, ax.set_xlim), (ys, ax.get_yscale, ax.set_ylim)):
        lo, hi = min(values), max(values)
        if get() == "log":
            set_(lo / 3, hi * 5)
        else:
            span = (hi - lo) or max(hi, 1)
            set_(max(lo - 0.15 * span, 0), hi + 0.35 * span)


def plot_layers(net, path, depth: int | None = None) -> None:
    """Parameters and MACs of each layer (or block instance, folded below `depth`) side by side, on a log
    axis: where a network's parameters sit and where its compute does."""
    from ..plots import pyplot, save, short
    from ..summary import args_table
    rows = [r for r in args_table(net, depth if depth is not None else 99)["rows"] if r["params"] or r["macs"]]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(7.0, 0.55 * len(rows) + 2), 4.4))
    xs = range(len(rows))
    total_p, total_m = max(net.param_count, 1), max(net.macs, 1)
    for offset, key, label, colour, total in ((-0.2, "params", "parameters", "C0", total_p),
                                              (0.2, "macs", "MACs per image", "C3", total_m)):
        values = [max(r[key], 0.5) for r in rows]
        bars = ax.bar([x + offset for x in xs], values, 0.4, label=label, color=colour)
        ax.bar_label(bars, [f"{short(r[key])}\n{100 * r[key] / total:.0f}%" if r[key] else "" for r in rows],
                     fontsize=7, padding=1)
    ax.set_yscale("log")
    ax.set_ylim(0.5, max(max(r["params"], r["macs"]) for r in rows) * 20)
    ax.set_xticks(list(xs), [r["name"] for r in rows], rotation=30 if len(rows) > 6 else 0, ha="right" if len(rows) > 6 else "center")
    ax.set_ylabel("count (log scale)")
    ax.set_title(f"{net.name}: parameters vs compute, layer by layer\n(each bar: its count and its share of the network's total)")
    ax.legend(loc="upper left")
    ax.grid(axis="x", visible=False)
    save(fig, path)
