"""`cnndsl explain`: the arithmetic behind every number of one layer, one block or the whole network,
with the values put in:

    output height, width  ⌊(224 + 2·3 − 7)/2⌋ + 1 = 112
    params                weight 64·3·7·7 = 9,408
    MACs                  64·112·112 · 3·7·7 = 118,013,952

Each op explains its own shape and costs (Op.explain_shape, Op.explain_costs in cnndsl/ops/); the
parameters, the receptive field and the memory are explained here, the same way for every op. Every
value shown is the graph's own (a test recomputes each formula and compares).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from ..errors import CnnError, clip, suggest
from ..format import block_call, fmt_rf, fmt_shape, human
from ..graph.node import Node
from ..ops.base import Step, times

MAX_TERMS = 16  # a sum of more terms is shown as its largest ones and "…"


def explain(net, name: str | None = None) -> dict:
    """{"title", "subtitle", "steps": [Step]} for a layer, a block instance, or the totals (name None)."""
    if name is None:
        return explain_totals(net)
    if name in net.graph and name != "input":
        return explain_layer(net, net.node(name))
    if name in net.graph.graph["blocks"]:
        return explain_block(net, name)
    known = [n for n in net.graph if n != "input"] + list(net.graph.graph["blocks"])
    raise CnnError(f"{net.name} has no layer or block named '{clip(name)}'{suggest(name, known)}",
                   hint="`cnndsl summary NET` lists the layers and blocks by name")


def explain_layer(net, node: Node) -> dict:
    op = node.impl
    ins = [net.node(i).shape for i in node.inputs]
    steps = op.explain_shape(node.attrs, ins, node.shape)
    steps.append(param_step(node))
    steps += op.explain_costs(node.attrs, ins, node.shape)
    steps += receptive_field_steps(net, node)
    steps.append(memory_step(node.shape))
    what = op.describe(node.attrs) if op.statement == "layer" else node.stmt
    where = f"line {node.line} of {Path(node.pos.file).name}" + (f", in {node.blocks[-1]}" if node.blocks else "")
    arrow = " + ".join(fmt_shape(s) for s in dict.fromkeys(ins))
    return {"name": node.name, "title": f"{node.name} — {what} ({where})",
            "subtitle": f"input {arrow} → output {fmt_shape(node.shape)}", "steps": steps}


def param_step(node: Node) -> Step:
    if not node.params:
        return Step("params", "0", 0, "no weights")
    parts = [f"{k} {times(*s)}" for k, s in node.params.items()]
    why = {"conv": "a filter of (input channels / groups)·kh·kw weights per output channel, and a bias each",
           "dense": "a weight from every input to every output, and a bias each",
           "batchnorm": "a scale γ and a shift β per channel (the running mean and variance are not trained)"}
    return Step("params", " + ".join(parts), node.n_params, why.get(node.op, ""))


def receptive_field_steps(net, node: Node) -> list[Step]:
    """rf = rf_in + (k − 1)·jump_in and jump = jump_in·stride, per side; merges take the largest."""
    preds = [net.node(i) for i in node.inputs]
    window = node.impl.window(node.attrs, [p.shape for p in preds])
    if len(preds) > 1:
        rf_in = tuple(max(p.rf[d] for p in preds) for d in (0, 1))
        jump_in = tuple(max(p.jump[d] for p in preds) for d in (0, 1))
        base = "the largest of its inputs'"
    else:
        rf_in, jump_in = preds[0].rf, preds[0].jump
        base = "its input's"
    if window is None:
        return [Step("receptive field", base, node.rf,
                     f"input pixels that can reach one output value; jump {fmt_rf(node.jump)}")]
    (kh, kw), (sh, sw) = window
    sides = []
    for r, k, j in ((rf_in[0], kh, jump_in[0]), (rf_in[1], kw, jump_in[1])):
        sides.append(f"{r} + ({k} − 1)·{j}")
    rf = sides[0] if sides[0] == sides[1] else f"{sides[0]} × {sides[1]}"
    jumps = [f"{j}·{s}" for j, s in ((jump_in[0], sh), (jump_in[1], sw))]
    jump = jumps[0] if jumps[0] == jumps[1] else f"{jumps[0]} × {jumps[1]}"
    return [Step("receptive field", rf, node.rf, "rf_in + (kernel − 1)·jump_in: input pixels one output value sees"),
            Step("jump", jump, node.jump, "jump_in·stride: input pixels between neighbouring outputs")]


def memory_step(shape) -> Step:
    n = 4 * math.prod(shape)
    return Step("memory", f"{times(*shape)} · 4", n, f"the output, float32 (4 bytes a value), per image ({human(n, 'B')})",
                "bytes")


def _sum(terms: list[tuple[str, int]]) -> str:
    """'a 9,472 + b 0 + …' — every term when there are few, else the largest and the count."""
    shown = [(k, v) for k, v in terms if v]
    if len(shown) > MAX_TERMS:
        top = sorted(shown, key=lambda t: -t[1])[:MAX_TERMS - 1]
        rest = len(shown) - len(top)
        keep = set(top)
        return " + ".join(f"{k} {v:,}" for k, v in shown if (k, v) in keep) + f" + {rest} smaller terms"
    return " + ".join(f"{k} {v:,}" for k, v in shown) or "0"


def _units(net, inside: str | None) -> list[tuple[str, list[str]]]:
    """The direct parts of a block (or of the network): (name, its layers), in source order."""
    blocks = net.graph.graph["blocks"]
    units: dict[str, list[str]] = {}
    for n in net.layers:
        node = net.node(n)
        chain = node.blocks
        if inside is not None:
            if inside not in chain:
                continue
            chain = chain[chain.index(inside) + 1:]
        top = node.aux if inside is None and node.aux else chain[0] if chain else n
        if top in blocks or top == node.aux:
            units.setdefault(top, []).append(n)
        else:
            units[n] = [n]
    return list(units.items())


def _within(name: str, block: str | None) -> str:
    return name[len(block) + 1:] if block and name.startswith(block + ".") else name


def _totals_steps(net, units, layers: list[str], inside: str | None = None) -> list[Step]:
    nodes = [net.node(n) for n in layers]
    params = sum(n.n_params for n in nodes)
    macs = sum(n.macs for n in nodes)
    flops = sum(n.flops for n in nodes)
    by = lambda key: [(_within(u, inside), sum(getattr(net.node(n), key) for n in ls)) for u, ls in units]  # noqa: E731
    bias = sum(math.prod(n.shape) for n in nodes if n.op in ("conv", "dense") and n.attrs.get("bias"))
    other = flops - 2 * macs - bias
    return [
        Step("params", _sum(by("n_params")), params, "every weight and bias, layer by layer"),
        Step("MACs", _sum(by("macs")), macs, "multiply-accumulates of the conv and dense layers, per image"),
        Step("FLOPs", f"2·{macs:,} + {bias:,} + {other:,}", flops,
             "2 per MAC, one add per output of a layer with a bias, and the element-wise work of the rest"),
        Step("memory", _sum(by("act_bytes")), sum(n.act_bytes for n in nodes),
             "every layer's output, float32, per image", "bytes"),
    ]


def explain_block(net, name: str) -> dict:
    info = net.graph.graph["blocks"][name]
    units = _units(net, name)
    layers = [n for _, ls in units for n in ls]
    last = net.node(layers[-1])
    first = net.node(layers[0])
    ins = " + ".join(fmt_shape(net.node(i).shape) for i in dict.fromkeys(first.inputs))
    steps = _totals_steps(net, units, layers, name)
    steps.append(Step("receptive field", fmt_rf(last.rf), last.rf, f"of its output, in input pixels; jump {fmt_rf(last.jump)}"))
    return {"name": name, "title": f"{name} — {block_call(info)} (line {info['line']}, {len(layers)} layers)",
            "subtitle": f"input {ins} → output {fmt_shape(last.shape)}", "steps": steps}


def explain_totals(net) -> dict:
    units = _units(net, None)
    steps = _totals_steps(net, units, net.layers)
    aux = [(h["name"], [n for n in net.layers if net.node(n).aux == h["name"]]) for h in net.aux_heads]
    if aux:
        aux_params = sum(net.node(n).n_params for _, ls in aux for n in ls)
        aux_macs = sum(net.node(n).macs for _, ls in aux for n in ls)
        steps.insert(1, Step("inference params", f"{net.param_count:,} − {aux_params:,} (the aux heads)",
                             net.inference_param_count, "the aux heads train the early layers and are dropped after"))
        steps.insert(3, Step("inference MACs", f"{net.macs:,} − {aux_macs:,} (the aux heads)", net.inference_macs))
    out = net.node(net.output)
    steps.append(Step("receptive field", fmt_rf(out.rf), out.rf, f"of the output, in input pixels; jump {fmt_rf(out.jump)}"))
    return {"name": None, "title": f"{net.name} — totals ({len(net.layers)} layers)",
            "subtitle": f"input {fmt_shape(net.input_shape)} → output {fmt_shape(net.output_shape)}", "steps": steps}


def show_value(value) -> str:
    if isinstance(value, tuple):
        return fmt_rf(value) if len(value) == 2 and not isinstance(value[0], tuple) else fmt_shape(value)
    return f"{value:,}"


def explain_text(result: dict, width: int = 100) -> str:
    steps = result["steps"]
    left = max(len(s.what) for s in steps) + 4
    lines = [result["title"], result["subtitle"], ""]
    for s in steps:
        value = fmt_shape(s.value) if isinstance(s.value, tuple) and s.what == "output" else show_value(s.value)
        value += f" {s.unit}" if s.unit else ""
        formula = s.formula if s.formula.replace(",", "") != show_value(s.value).replace(",", "") else ""
        body = f"{formula} = {value}" if formula else value
        body = " + ".join(term.replace(" ", "\0") for term in body.split(" + "))  # break only between terms
        lines += textwrap.wrap(body, width, initial_indent=f"  {s.what:<{left - 2}}", subsequent_indent=" " * (left + 2),
                               break_on_hyphens=False)
        if s.why:
            lines += textwrap.wrap(s.why, width, initial_indent=" " * (left + 2), subsequent_indent=" " * (left + 2))
    return "\n".join(lines).replace("\0", " ") + "\n"


def explain_json(result: dict) -> dict:
    return {"name": result["name"], "title": result["title"], "subtitle": result["subtitle"],
            "steps": [{"what": s.what, "formula": s.formula,
                       "value": list(s.value) if isinstance(s.value, tuple) else s.value, "unit": s.unit, "why": s.why}
                      for s in result["steps"]]}
