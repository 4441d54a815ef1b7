"""The summary: a per-layer table in the manner of torchinfo and Keras, with block subtotals and totals.

MACs count the multiply-accumulates of conv and dense layers (bias excluded), as fvcore and most papers do.
FLOPs are 2 × MACs plus bias adds plus the element-wise work of every other layer (docs/language.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from .engine.memory import kept_for_backward
from .errors import CnnError
from .format import block_call, fmt_rf, human
from .gcpause import collector_paused
from .graph.node import Node
from .ops import fmt_shape

Network = Any  # a cnndsl.network.Network: the summary is read from it, never imports it (no cycle)


def _json_rf(rf: tuple[int, int]) -> int | list[int]:
    return rf[0] if rf[0] == rf[1] else list(rf)


def describe(node: Node) -> str:
    return node.impl.describe(node.attrs) if node.impl.statement == "layer" else node.stmt


def block_totals(net: Network) -> dict[str, dict]:
    """Per block instance: params, MACs, FLOPs, its output node and nesting depth."""
    nodes = dict(net.graph.nodes(data="node"))
    totals = {name: {**info, "params": 0, "macs": 0, "flops": 0, "last": None, "depth": 0}
              for name, info in net.graph.graph["blocks"].items()}
    for name, info in totals.items():
        parent, depth = info["parent"], 0
        while parent:
            depth, parent = depth + 1, totals[parent]["parent"]
        info["depth"] = depth
    for n in net.layers:
        for b in nodes[n].blocks:
            t = totals[b]
            t["params"] += nodes[n].n_params
            t["macs"] += nodes[n].macs
            t["flops"] += nodes[n].flops
            if nodes[n].aux == t["aux"]:
                t["last"] = n
    return totals


def kernel_of(data: Node) -> str:
    """A windowed layer's kernel and stride, as the `kernel` column shows it: '7×7 /2'."""
    a = data.attrs
    if "kernel" not in a:
        return ""
    stride = a.get("stride", (1, 1))
    text = fmt_rf(a["kernel"])
    if tuple(stride) != (1, 1):
        text += f" /{fmt_rf(stride)}"
    return text


def kept_elements(net: Network) -> dict[str, int]:
    """Per layer, the elements of its output — and of any mask or index it makes — that a training step
    keeps for backward, per image (the memory estimate's rule). A tensor kept by several readers
    counts once, for the layer that made it."""
    nodes = dict(net.graph.nodes(data="node"))
    kept, extra = kept_for_backward(nodes, net.layers)
    return {n: (math.prod(nodes[n].shape) if n in kept else 0) + extra.get(n, 0) for n in net.layers}


def training_bytes(net: Network, batch: int) -> dict[str, int]:
    """Per layer, what it adds to a training step at this batch: its weights, their gradient and Adam's
    two moments (16 bytes a parameter), and what backward keeps of its output (float32)."""
    nodes = dict(net.graph.nodes(data="node"))
    return {n: 16 * nodes[n].n_params + 4 * batch * k for n, k in kept_elements(net).items()}


def summary_dict(net: Network, batch: int | None = None) -> dict:
    """Every column of the table, per layer (the JSON of `summary --json`)."""
    with collector_paused():
        return _summary_dict(net, batch)


def _summary_dict(net: Network, batch: int | None) -> dict:
    nodes = dict(net.graph.nodes(data="node"))
    total = max(net.param_count, 1)
    train = training_bytes(net, batch) if batch else {}
    shapes = {n: d.shape for n, d in nodes.items()}
    layers = []
    for n in net.layers:
        d = nodes[n]
        row = {
            "name": n,
            "op": d.op,
            "block": d.blocks[-1] if d.blocks else None,
            "output_shape": list(d.shape),
            "params": d.n_params,
            "macs": d.macs,
            "flops": d.flops,
            "receptive_field": _json_rf(d.rf),
            "line": d.line,
            "input_shapes": [list(shapes[i]) for i in d.inputs],
            "params_percent": 100 * d.n_params / total,
            "memory": d.act_bytes,
            "kernel": kernel_of(d) or None,
        }
        if batch:
            row["training_memory"] = train[n]
        layers.append(row)
    return {"name": net.name, "input": list(net.input_shape), "output": list(net.output_shape),
            "totals": net.totals(), "layers": layers}


@dataclass(frozen=True)
class Column:
    """One column of the table: its header, alignment, and its cell for a layer or a block instance."""

    key: str
    header: str
    justify: str
    help: str


COLUMN_LIST = (
    Column("input", "Input", "right", "input shape(s)"),
    Column("output", "Output", "right", "output shape, per image"),
    Column("params", "Params", "right", "parameters"),
    Column("params%", "Params %", "right", "share of all parameters"),
    Column("macs", "MACs", "right", "multiply-accumulates, per image"),
    Column("flops", "FLOPs", "right", "floating-point operations, per image"),
    Column("memory", "Memory", "right", "the output's size, float32, per image"),
    Column("train", "Train mem", "right", "a training step at --batch: weights, gradient, Adam moments and "
                                          "what backward keeps of the output"),
    Column("rf", "RF", "right", "receptive field, in input pixels"),
    Column("kernel", "Kernel", "right", "kernel size and stride"),
)
COLUMNS_BY_KEY = {c.key: c for c in COLUMN_LIST}
DEFAULT_COLUMNS = ("output", "params", "macs", "rf")


def parse_columns(text: str) -> tuple[str, ...]:
    """`--columns input,output,params%` → the keys, checked."""
    keys = tuple(k.strip().lower() for k in text.split(",") if k.strip())
    unknown = [k for k in keys if k not in COLUMNS_BY_KEY]
    if unknown or not keys:
        known = ", ".join(COLUMNS_BY_KEY)
        raise CnnError(f"--columns: unknown column {', '.join(map(repr, unknown)) or '(none given)'}",
                       hint=f"the columns are {known}")
    return keys


def _cell(key: str, v: dict, batch: int | None) -> str:
    """A cell from a row's values (a layer's, or a block instance's subtotals)."""
    if key == "input":
        return " + ".join(dict.fromkeys(fmt_shape(s) for s in v["inputs"])) if v["inputs"] else ""
    if key == "output":
        return fmt_shape(v["shape"])
    if key in ("params", "macs", "flops"):
        return f"{v[key]:,}" if v[key] else ""
    if key == "params%":
        return f"{v['params%']:.1f} %" if v["params"] else ""
    if key == "memory":
        return human(v["memory"], "B")
    if key == "train":
        return human(v["train"], "B") if batch and v["train"] else ""
    if key == "rf":
        return fmt_rf(v["rf"])
    return v.get("kernel", "")


def _within(name: str, parent: str | None) -> str:
    return name[len(parent) + 1:] if parent and name.startswith(parent + ".") else name


def table_rows(net: Network, depth: int | None = None, columns=DEFAULT_COLUMNS, batch: int | None = None,
               relative: bool = False) -> list[tuple[tuple[str, ...], str | None]]:
    """The table's rows as (cells, style): the layer and op columns, then `columns`. Block instances
    open with their call and subtotals; layers nested deeper than `depth` fold into them. One pass.
    relative: a nested row names its layer within its block (`b2.conv1` under `inception3a`), as the
    terminal's narrower table does."""
    nodes = dict(net.graph.nodes(data="node"))
    blocks = block_totals(net)
    total = max(net.param_count, 1)
    train = training_bytes(net, batch) if batch and "train" in columns else {}
    block_train: dict[str, int] = {}
    block_memory: dict[str, int] = {}
    if train or "memory" in columns:
        for n in net.layers:
            for b in nodes[n].blocks:
                block_train[b] = block_train.get(b, 0) + train.get(n, 0)
                block_memory[b] = block_memory.get(b, 0) + nodes[n].act_bytes
    first_input: dict[str, list] = {}
    rows: list[tuple[tuple[str, ...], str | None]] = []
    opened: set[str] = set()
    for n in net.layers:
        data = nodes[n]
        for b in data.blocks:
            first_input.setdefault(b, [nodes[i].shape for i in data.inputs])
            info = blocks[b]
            if b in opened or (depth is not None and info["depth"] > depth):
                continue
            opened.add(b)
            last = nodes[info["last"]]
            collapsed = depth is not None and info["depth"] == depth
            mark = ("" if collapsed else " ▾") + (" (train)" if info["aux"] else "")
            values = {"inputs": first_input[b], "shape": last.shape, "params": info["params"],
                      "macs": info["macs"], "flops": info["flops"], "params%": 100 * info["params"] / total,
                      "memory": block_memory.get(b, 0), "train": block_train.get(b, 0), "rf": last.rf}
            shown = _within(b, info["parent"]) if relative else b
            rows.append((("  " * info["depth"] + shown + mark, block_call(info))
                         + tuple(_cell(k, values, batch) for k in columns), "bold dim" if info["aux"] else "bold"))
        level = len(data.blocks)
        if depth is not None and level > depth:
            continue
        shown = _within(n, data.blocks[-1] if data.blocks else None) if relative else n
        name = "  " * level + shown + (" (train)" if data.train_only else "")
        values = {"inputs": [nodes[i].shape for i in data.inputs], "shape": data.shape,
                  "params": data.n_params, "macs": data.macs, "flops": data.flops,
                  "params%": 100 * data.n_params / total, "memory": data.act_bytes,
                  "train": train.get(n, 0), "rf": data.rf,
                  "kernel": kernel_of(data)}
        rows.append(((name, describe(data)) + tuple(_cell(k, values, batch) for k in columns),
                     "dim" if data.train_only else None))
    return rows


def args_table(net: Network, depth: int = 0) -> dict:
    """The summary by block arguments: one row per block instance nested at most `depth` deep (and per
    layer outside them), each instance's arguments in columns named after its block's parameters —
    GoogLeNet's gives the paper's Table 1, ResNet's its stage table."""
    nodes = dict(net.graph.nodes(data="node"))
    blocks = block_totals(net)
    names: list[str] = []
    rows, opened = [], set()
    for n in net.layers:
        node = nodes[n]
        for b in node.blocks:
            info = blocks[b]
            if b in opened or info["depth"] > depth:
                continue
            opened.add(b)
            names += [k for k in info["args"] if k not in names]
            last = nodes[info["last"]]
            rows.append({"name": b, "op": info["block"], "output": list(last.shape), "args": dict(info["args"]),
                         "params": info["params"], "macs": info["macs"], "train_only": bool(info["aux"]), "depth": info["depth"]})
        if len(node.blocks) > depth:
            continue
        rows.append({"name": n, "op": describe(node), "output": list(node.shape), "args": {}, "params": node.n_params,
                     "macs": node.macs, "train_only": node.train_only, "depth": len(node.blocks)})
    return {"parameters": names, "rows": rows}


def args_text(net: Network, depth: int = 0) -> str:
    table = args_table(net, depth)
    names = table["parameters"]
    columns = (("Layer", "left"), ("Block / op", "left"), ("Output", "right")) + tuple((k, "right") for k in names) + (
        ("Params", "right"), ("MACs", "right"))
    body = []
    for r in table["rows"]:
        cells = ("  " * r["depth"] + r["name"] + (" (train)" if r["train_only"] else ""), r["op"], fmt_shape(r["output"]))
        cells += tuple(show_arg(r["args"][k]) if k in r["args"] else "" for k in names)
        cells += (f"{r['params']:,}" if r["params"] else "", f"{r['macs']:,}" if r["macs"] else "")
        body.append((cells, None))
    title = f"{net.name} — by block arguments (blocks nested deeper than {depth} folded)"
    return "\n".join(line.rstrip() for line in table_lines(title, columns, body) + [""] + footer_lines(net)) + "\n"


def show_arg(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


def header_of(columns) -> tuple[tuple[str, str], ...]:
    return (("Layer", "left"), ("Op", "left")) + tuple((COLUMNS_BY_KEY[k].header, COLUMNS_BY_KEY[k].justify)
                                                      for k in columns)


COLUMNS = header_of(DEFAULT_COLUMNS)


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
        data = summary_dict(net, batch)
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


def build_table(net: Network, depth: int | None = None, columns=DEFAULT_COLUMNS, batch: int | None = None,
                rows=None) -> Table:
    """The same table as a rich Table, for the terminal (bold block rows, dim training-only rows); it
    wraps the layer and op columns to fit a narrow terminal."""
    table = Table(box=box.SIMPLE_HEAD, title=f"{net.name} — input {fmt_shape(net.input_shape)}",
                  title_justify="left", show_footer=False, pad_edge=False)
    for name, justify in header_of(columns):
        table.add_column(name, justify=justify, no_wrap=name not in ("Layer", "Op"), overflow="fold")
    for cells, style in rows if rows is not None else table_rows(net, depth, columns, batch):
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
    out = net.graph.nodes[net.output]["node"]
    lines.append(f"Output:       {fmt_shape(out.shape)}; receptive field {fmt_rf(out.rf)}, "
                 f"jump {fmt_rf(out.jump)} input pixels")
    return lines


RICH_ROWS = 500  # up to this many rows a terminal gets rich's styled table; beyond, the plain one


class Summary(str):
    """The summary as text (it is a str: prints as the table) that a notebook displays as an HTML table,
    made only when a notebook asks for it."""

    def __new__(cls, text: str, html):
        obj = super().__new__(cls, text)
        obj._html = html  # () → the HTML
        return obj

    def _repr_html_(self) -> str:
        return self._html()


def summary_html(net: Network, depth: int | None = None, columns=DEFAULT_COLUMNS, batch: int | None = None) -> str:
    """The table as HTML: a header, a row per layer or folded block (blocks in bold, aux heads dimmed),
    and the totals below."""
    from html import escape
    rows = table_rows(net, depth, columns, batch)
    head = "".join(f"<th style='text-align:{'left' if j == 'left' else 'right'}'>{escape(h)}</th>" for h, j in header_of(columns))
    justify = [j for _, j in header_of(columns)]
    body = []
    for cells, style in rows:
        css = ("font-weight:bold;" if style and "bold" in style else "") + ("color:#888;" if style and "dim" in style else "")
        tds = "".join(f"<td style='text-align:{j};white-space:pre'>{escape(c)}</td>" for c, j in zip(cells, justify))
        body.append(f"<tr style='{css}'>{tds}</tr>")
    footer = "<br>".join(escape(line) for line in footer_lines(net) + (memory_lines(net, batch) if batch else []))
    return (f"<div><b>{escape(net.name)}</b> — input {escape(fmt_shape(net.input_shape))}"
            f"<table style='font-family:monospace;font-size:12px'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><p style='font-family:monospace;font-size:12px'>{footer}</p></div>")


def summary_text(net: Network, depth: int | None = None, width: int = 110, rows=None,
                 batch: int | None = None, columns=DEFAULT_COLUMNS) -> str:
    with collector_paused():
        rows = table_rows(net, depth, columns, batch) if rows is None else rows
        lines = table_lines(f"{net.name} — input {fmt_shape(net.input_shape)}", header_of(columns), rows)
        footer = footer_lines(net) + (memory_lines(net, batch) if batch else [])
        return "\n".join(line.rstrip() for line in lines + [""] + footer) + "\n"


def print_summary(net: Network, console: Console, depth: int | None = None, batch: int | None = None,
                  columns=DEFAULT_COLUMNS) -> None:
    terminal = console.is_terminal
    with collector_paused():
        rows = table_rows(net, depth, columns, batch, relative=terminal)
    if terminal and len(rows) <= RICH_ROWS:
        console.print(build_table(net, depth, columns, batch, rows))
        for line in footer_lines(net) + (memory_lines(net, batch) if batch else []):
            console.print(line, highlight=False, soft_wrap=True)
        return
    console.file.write(summary_text(net, depth, rows=None if terminal else rows, batch=batch, columns=columns))
