"""The summary: a per-layer table in the manner of torchinfo and Keras, with block subtotals and totals.

MACs count the multiply-accumulates of conv and dense layers (bias excluded), as fvcore and most papers do.
FLOPs are 2 × MACs plus bias adds plus the element-wise work of every other layer (docs/language.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from .format import fmt_rf, human
from .gcpause import collector_paused
from .ops import OPS, fmt_shape

if TYPE_CHECKING:
    from .network import Network


def _json_rf(rf: tuple[int, int]) -> int | list[int]:
    return rf[0] if rf[0] == rf[1] else list(rf)


def describe(data: dict) -> str:
    return OPS[data["op"]].describe(data["attrs"]) if data["op"] not in ("add", "concat") else data["stmt"]


def block_totals(net: Network) -> dict[str, dict]:
    """Per block instance: params, MACs, FLOPs, its output node and nesting depth."""
    nodes = net.graph.nodes
    totals = {name: {**info, "params": 0, "macs": 0, "flops": 0, "last": None, "depth": 0}
              for name, info in net.graph.graph["blocks"].items()}
    for name, info in totals.items():
        parent, depth = info["parent"], 0
        while parent:
            depth, parent = depth + 1, totals[parent]["parent"]
        info["depth"] = depth
    for n in net.layers:
        for b in nodes[n]["blocks"]:
            t = totals[b]
            t["params"] += nodes[n]["n_params"]
            t["macs"] += nodes[n]["macs"]
            t["flops"] += nodes[n]["flops"]
            if nodes[n]["aux"] == t["aux"]:
                t["last"] = n
    return totals


def summary_dict(net: Network) -> dict:
    nodes = net.graph.nodes
    layers = [{
        "name": n,
        "op": nodes[n]["op"],
        "block": nodes[n]["blocks"][-1] if nodes[n]["blocks"] else None,
        "output_shape": list(nodes[n]["shape"]),
        "params": nodes[n]["n_params"],
        "macs": nodes[n]["macs"],
        "flops": nodes[n]["flops"],
        "receptive_field": _json_rf(nodes[n]["rf"]),
        "line": nodes[n]["line"],
    } for n in net.layers]
    return {"name": net.name, "input": list(net.input_shape), "output": list(net.output_shape),
            "totals": net.totals(), "layers": layers}


def block_call(info: dict) -> str:
    """A block instance as it was called, with every argument resolved: 'inception(64, 96, 128, 16, 32, 32)'."""
    return f"{info['block']}({', '.join(str(v) for v in info['args'].values())})"


COLUMNS = (("Layer", "left"), ("Op", "left"), ("Output", "right"), ("Params", "right"), ("MACs", "right"),
           ("RF", "right"))


def table_rows(net: Network, depth: int | None = None) -> list[tuple[tuple[str, ...], str | None]]:
    """The table's rows as (cells, style): block instances open with their call and subtotal, layers
    nested deeper than `depth` fold into them. One pass over the layers."""
    nodes = dict(net.graph.nodes(data=True))
    blocks = block_totals(net)
    rows: list[tuple[tuple[str, ...], str | None]] = []
    opened: set[str] = set()
    for n in net.layers:
        data = nodes[n]
        for b in data["blocks"]:
            info = blocks[b]
            if b in opened or (depth is not None and info["depth"] > depth):
                continue
            opened.add(b)
            last = nodes[info["last"]]
            collapsed = depth is not None and info["depth"] == depth
            mark = ("" if collapsed else " ▾") + (" (train)" if info["aux"] else "")
            rows.append((("  " * info["depth"] + b + mark, block_call(info), fmt_shape(last["shape"]),
                          f"{info['params']:,}", f"{info['macs']:,}", fmt_rf(last["rf"])),
                         "bold dim" if info["aux"] else "bold"))
        level = len(data["blocks"])
        if depth is not None and level > depth:
            continue
        name = "  " * level + n + (" (train)" if data["train_only"] else "")
        rows.append(((name, describe(data), fmt_shape(data["shape"]), f"{data['n_params']:,}" if data["n_params"] else "",
                      f"{data['macs']:,}" if data["macs"] else "", fmt_rf(data["rf"])),
                     "dim" if data["train_only"] else None))
    return rows


def table_lines(title: str, columns, rows) -> list[str]:
    """A plain text table (title, header, rule, rows), column widths from the widest cell. Linear in
    the rows: a 100,000-layer network's table takes a fraction of a second (rich's takes a minute)."""
    cells = [c for c, _ in rows]
    widths = [max([len(name)] + [len(c) for c in column]) for (name, _), column in
              zip(columns, zip(*cells) if cells else [()] * len(columns))]
    fmt = " " + "   ".join(f"{{:{'<' if justify == 'left' else '>'}{w}}}" for (_, justify), w in zip(columns, widths))
    return [title, "", fmt.format(*(name for name, _ in columns)), " " + "─" * (sum(widths) + 3 * (len(widths) - 1))] \
        + [fmt.format(*c) for c in cells]


def summary_json(net: Network, batch: int | None = None) -> str:
    """`summary --json`: indented, one layer a line (json.dumps with indent takes seconds on a
    100,000-layer network; this takes a fraction of one)."""
    with collector_paused():
        data = summary_dict(net)
    if batch:
        data["memory"] = {"batch": batch} | {
            kind: {"total": f.total, "weights": f.weights, "gradients": f.gradients, "optimizer": f.optimizer,
                   "activations": f.activations, "workspace": f.workspace}
            for kind, f in (("training", net.footprint(batch, "train", True, "adam")),
                            ("inference", net.footprint(batch, "eval", False, None)))}
    layers = data.pop("layers")
    head = json.dumps(data, indent=2)[:-2]  # without the closing "\n}"
    body = ",\n    ".join(json.dumps(layer, ensure_ascii=False) for layer in layers)
    return f'{head},\n  "layers": [\n    {body}\n  ]\n}}' if layers else f'{head},\n  "layers": []\n}}'


def build_table(net: Network, depth: int | None = None) -> Table:
    """The same table as a rich Table, for the terminal (bold block rows, dim training-only rows)."""
    table = Table(box=box.SIMPLE_HEAD, title=f"{net.name} — input {fmt_shape(net.input_shape)}",
                  title_justify="left", show_footer=False, pad_edge=False)
    for name, justify in COLUMNS:
        table.add_column(name, justify=justify, no_wrap=name in ("Layer", "Op", "Output"))
    for cells, style in table_rows(net, depth):
        table.add_row(*cells, style=style)
    return table


def memory_lines(net: Network, batch: int) -> list[str]:
    """The estimated memory of a training step and of inference at a batch size (engine/memory.py)."""
    train = net.footprint(batch, "train", True, "adam")
    infer = net.footprint(batch, "eval", False, None)
    return [f"Memory:       training step at batch {batch:,} (Adam) ≈ {human(train.total, 'B')}: {train.describe()}",
            f"              inference at batch {batch:,} ≈ {human(infer.total, 'B')}: {infer.describe()}"]


def footer_lines(net: Network) -> list[str]:
    aux = net.param_count - net.inference_param_count
    params = f"Params:       {net.param_count:,} ({human(net.param_count)})"
    if aux:
        params += f" — {net.inference_param_count:,} at inference; aux heads {aux:,} (training only)"
    lines = [
        params,
        f"MACs:         {net.macs:,} ({human(net.macs)}) — multiply-accumulates of conv and dense layers, bias excluded",
        f"FLOPs:        {net.flops:,} ({human(net.flops)}) — 2 × MACs + bias adds + element-wise work of the other layers",
        f"Activations:  {net.activation_bytes:,} bytes ({human(net.activation_bytes, 'B')}) per image, float32 outputs of every layer",
    ]
    if aux:
        lines.insert(2, f"              {net.inference_macs:,} MACs at inference (aux heads excluded)")
    out = net.graph.nodes[net.output]
    lines.append(f"Output:       {fmt_shape(out['shape'])}; receptive field {fmt_rf(out['rf'])}, "
                 f"jump {fmt_rf(out['jump'])} input pixels")
    return lines


RICH_ROWS = 500  # up to this many rows a terminal gets rich's styled table; beyond, the plain one


def summary_text(net: Network, depth: int | None = None, width: int = 110, rows=None,
                 batch: int | None = None) -> str:
    with collector_paused():
        rows = table_rows(net, depth) if rows is None else rows
        lines = table_lines(f"{net.name} — input {fmt_shape(net.input_shape)}", COLUMNS, rows)
        footer = footer_lines(net) + (memory_lines(net, batch) if batch else [])
        return "\n".join(line.rstrip() for line in lines + [""] + footer) + "\n"


def print_summary(net: Network, console: Console, depth: int | None = None, batch: int | None = None) -> None:
    with collector_paused():
        rows = table_rows(net, depth)
    if console.is_terminal and len(rows) <= RICH_ROWS:
        console.print(build_table(net, depth))
        for line in footer_lines(net) + (memory_lines(net, batch) if batch else []):
            console.print(line, highlight=False, soft_wrap=True)
        return
    console.file.write(summary_text(net, depth, rows=rows, batch=batch))
