"""ONNX → .cnn text and weights: `cnndsl import model.onnx -o net.cnn --weights-out w.npz`.

Each ONNX node becomes a statement or a merge (a `Step`; Identity and Dropout pass their input on). Where
the graph is series-parallel from its input — every merge's operands are paths from one fork, the merge's
immediate dominator, that nothing else reads — it is written structured: `concat { branch … }`,
`residual { } shortcut { }`, and `add`/`mul { branch … }`; then every unit (a merge and the activations
after it) that occurs twice or more with the same layout becomes a `block` whose parameters are the numbers
that differ between its calls (ResNet's basic and projection blocks, GoogLeNet's Inception module). The
text is parsed and the weights keyed by the layers cnndsl builds, in order. A graph that is not
series-parallel (DenseNet's concatenation of every earlier output) is written flat: one statement per node,
`from @label` where a node reads another tensor than the statement before, `add @a` / `concat @a @b` of
labelled tensors, every layer with weights labelled after its ONNX node. Conv weights keep ONNX's layout,
which is PyTorch's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CnnError
from .names import fresh
from .onnx import need_onnx

SIMPLE = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Identity": "identity",
          "GlobalAveragePool": "gap", "GlobalMaxPool": "gmp"}
MERGES = {"Add": "add", "Mul": "mul", "Concat": "concat"}
SUPPORTED = set(SIMPLE) | set(MERGES) | {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "BatchNormalization",
                                         "Clip", "LeakyRelu", "LRN", "Dropout", "Flatten", "Reshape", "Softmax"}


@dataclass
class Step:
    """One ONNX node as cnndsl reads it: a layer's statement, or a merge of several tensors."""

    out: str  # the tensor it makes
    inputs: list[str]  # the data tensors it reads
    statement: str | None = None  # `conv 64 3x3 pad=1`
    merge: str | None = None  # add | mul | concat
    hint: str = ""  # the ONNX node's name, for labels
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # weight, bias, running_mean, …


@dataclass
class Imported:
    text: str
    weights: dict[str, np.ndarray] = field(default_factory=dict)


def _name(text: str, taken: set[str], fallback: str) -> str:
    """A cnndsl name from an ONNX one: `/features/features.0/Conv` → `features_0_conv`, unique."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower() or fallback
    if base[0].isdigit():
        base = f"{fallback}_{base}"
    base = re.sub(r"^(.*?)_(conv|gemm|batchnormalization|matmul)$", r"\1", base) or base
    if GENERATED.fullmatch(base):  # `maxpool3` would clash with the name cnndsl gives an unlabelled maxpool
        base = re.sub(r"(\D)(\d)", r"\1_\2", base, count=1)
    name, k = base, 2
    while name in taken or name in RESERVED:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


# the words of statements the importer leaves unlabelled: cnndsl names those `maxpool1`, `relu2`, …
GENERATED = re.compile(r"(maxpool|avgpool|gap|gmp|relu|relu6|tanh|sigmoid|leakyrelu|identity|lrn|flatten|softmax|"
                       r"add|mul|concat|from)\d+(_\d+)?")
RESERVED = {"network", "input", "block", "repeat", "branch", "concat", "add", "mul", "residual", "shortcut", "from",
            "aux", "expect", "same", "valid", "true", "false"}


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _size(values) -> str:
    values = list(values)
    return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"


def _pads(node, a) -> tuple[int, int]:
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise CnnError(f"ONNX node {node.name or node.op_type} ({node.op_type}): auto_pad is not supported",
                       hint="export with explicit pads")
    if pads[:2] != pads[2:]:
        raise CnnError(f"ONNX node {node.name or node.op_type} ({node.op_type}): asymmetric padding {pads} is not "
                       "supported", hint="cnndsl pads both sides alike")
    return pads[0], pads[1]


GENERIC_NAMES = {"", "main_graph", "torch_jit", "torch-jit-export", "graph"}  # exporters' defaults


def import_onnx(model, structure: bool = True, name: str | None = None) -> Imported:
    """The model as .cnn text and weights; `name` (else the graph's) names the network; structure=False
    writes it flat."""
    onnx = need_onnx()
    from onnx import numpy_helper
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consts = {}
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])
    values = inits | consts
    for node in graph.node:  # exporters leave Identity nodes between weights: fold them
        if node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    folded = {n.output[0] for n in graph.node if n.op_type == "Identity" and n.output[0] in values}
    unsupported = [f"{n.name or '(unnamed)'} ({n.op_type})" for n in graph.node
                   if n.op_type not in SUPPORTED and n.op_type != "Constant"]
    if unsupported:
        raise CnnError(f"the model uses ops cnndsl cannot import: {', '.join(unsupported[:10])}"
                       + (f" and {len(unsupported) - 10} more" if len(unsupported) > 10 else ""),
                       hint="supported: " + ", ".join(sorted(SUPPORTED)))
    inputs = [i for i in graph.input if i.name not in values]
    if len(inputs) != 1:
        raise CnnError(f"the model has {len(inputs)} inputs; cnndsl networks have one")
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or not all(dims[1:]):
        raise CnnError(f"the model's input has shape {dims}; cnndsl reads images N×C×H×W with known C, H, W")
    steps, alias = _steps(graph, values, folded)
    given = name or (graph.name if graph.name not in GENERIC_NAMES else "Imported")
    title = given if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", given) and given.lower() not in RESERVED \
        else _name(given, set(), "net").title().replace("_", "")
    header = [f"network {title}",
              f"input {dims[1]}x{dims[2]}x{dims[3]}"]
    output = alias.get(graph.output[0].name, graph.output[0].name)
    if structure:
        try:
            return _structured(header, steps, inputs[0].name, output)
        except _Unstructured:
            pass
    return _flat(header, steps, inputs[0].name, output)


def _steps(graph, values, folded) -> tuple[list[Step], dict[str, str]]:
    """Each ONNX node (but constants and folded Identities) as a cnndsl statement or merge."""
    steps: list[Step] = []
    alias: dict[str, str] = {}  # the output of an Identity or Dropout → the tensor it passes on
    for node in graph.node:
        op, a = node.op_type, _attrs(node)
        if op == "Constant" or node.output[0] in folded:
            continue
        data = [alias.get(i, i) for i in node.input if i and i not in values]
        if op in ("Identity", "Dropout") and data:  # an inference graph: both pass their input on
            alias[node.output[0]] = data[0]
            continue
        if op in MERGES:
            if op == "Concat" and a.get("axis", 1) not in (1, -3):
                raise CnnError(f"ONNX node {node.name} (Concat): axis {a.get('axis')} is not the channel axis")
            if len(data) == 1:  # a concatenation of one tensor (DenseNet's first layer): that tensor
                alias[node.output[0]] = data[0]
                continue
            steps.append(Step(node.output[0], data, merge=MERGES[op], hint=node.name or node.output[0]))
            continue
        weights: dict[str, np.ndarray] = {}
        if op == "Conv":
            w = values[node.input[1]]
            ph, pw = _pads(node, a)
            k = a.get("kernel_shape", w.shape[2:])
            parts = [f"conv {w.shape[0]} {k[0]}x{k[1]}"]
            if list(a.get("strides", [1, 1])) != [1, 1]:
                parts.append(f"stride={_size(a['strides'])}")
            if (ph, pw) != (0, 0):
                parts.append(f"pad={_size((ph, pw))}")
            if list(a.get("dilations", [1, 1])) != [1, 1]:
                parts.append(f"dilation={_size(a['dilations'])}")
            if a.get("group", 1) != 1:
                parts.append(f"groups={a['group']}")
            weights["weight"] = w
            if len(node.input) > 2 and node.input[2]:
                weights["bias"] = values[node.input[2]]
            else:
                parts.append("bias=false")
            statement = " ".join(parts)
        elif op in ("Gemm", "MatMul"):
            w = values[node.input[1]]
            if op == "Gemm" and (a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0)):
                raise CnnError(f"ONNX node {node.name} (Gemm): only alpha = beta = 1 without transA is supported")
            w = w if op == "Gemm" and a.get("transB", 0) else w.T
            weights["weight"] = np.ascontiguousarray(w)
            bias = op == "Gemm" and len(node.input) > 2 and node.input[2]
            if bias:
                weights["bias"] = np.broadcast_to(values[node.input[2]], (w.shape[0],)).copy()
            statement = f"dense {w.shape[0]}" + ("" if bias else " bias=false")
        elif op in ("MaxPool", "AveragePool"):
            ph, pw = _pads(node, a)
            if op == "AveragePool" and (ph or pw) and not a.get("count_include_pad", 0):
                raise CnnError(f"ONNX node {node.name} (AveragePool): padding left out of the average "
                               "(count_include_pad=0) is not supported", hint="cnndsl counts the padding, as PyTorch's default")
            parts = [f"{'maxpool' if op == 'MaxPool' else 'avgpool'} {_size(a['kernel_shape'])}"]
            strides = a.get("strides", [1, 1])
            if list(strides) != list(a["kernel_shape"]):
                parts.append(f"stride={_size(strides)}")
            if (ph, pw) != (0, 0):
                parts.append(f"pad={_size((ph, pw))}")
            if a.get("ceil_mode", 0):
                parts.append("ceil=true")
            statement = " ".join(parts)
        elif op == "BatchNormalization":
            for key, i in (("weight", 1), ("bias", 2), ("running_mean", 3), ("running_var", 4)):
                weights[key] = values[node.input[i]]
            eps = a.get("epsilon", 1e-5)
            statement = "bn" if abs(eps - 1e-5) < 1e-12 else f"bn eps={eps:g}"
        elif op == "Clip":
            low = values.get(node.input[1]) if len(node.input) > 1 and node.input[1] else a.get("min")
            high = values.get(node.input[2]) if len(node.input) > 2 and node.input[2] else a.get("max")
            if low is None or high is None or float(low) != 0 or float(high) != 6:
                raise CnnError(f"ONNX node {node.name} (Clip): only Clip(0, 6), ReLU6, is supported")
            statement = "relu6"
        elif op == "LeakyRelu":
            statement = f"leakyrelu slope={a.get('alpha', 0.01):g}"
        elif op == "LRN":
            statement = (f"lrn size={a['size']} alpha={a.get('alpha', 1e-4) / a['size']:g} "
                         f"beta={a.get('beta', 0.75):g} k={a.get('bias', 1.0):g}")
        elif op in ("Flatten", "Reshape"):
            if op == "Flatten" and a.get("axis", 1) != 1:
                raise CnnError(f"ONNX node {node.name} (Flatten): only axis 1 is supported")
            if op == "Reshape":
                shape = values.get(node.input[1])
                if shape is None or len(shape) != 2:
                    raise CnnError(f"ONNX node {node.name} (Reshape): only a reshape to (N, features) before a "
                                   "classifier is supported")
            statement = "flatten"
        elif op == "Softmax":
            statement = "softmax"
        else:
            statement = SIMPLE[op]
        steps.append(Step(node.output[0], data[:1], statement=statement, hint=node.name or node.output[0],
                          weights={k: np.asarray(v, np.float32) for k, v in weights.items()}))
    return steps, alias


def _flat(header: list[str], steps: list[Step], source: str, output: str) -> Imported:
    """One statement per step in the graph's order; labels, `from @label` and `add @a` where data does not
    flow from the statement before. Every layer with weights is labelled after its ONNX node."""
    taken: set[str] = set()
    readers: dict[str, int] = {}
    for step in steps:
        for i in step.inputs:
            readers[i] = readers.get(i, 0) + 1
    named: set[str] = {output}  # tensors a later statement refers to by label
    previous = source
    for step in steps:
        if step.merge:
            named.update(step.inputs)
        elif step.inputs and step.inputs[0] != previous:
            named.add(step.inputs[0])
        previous = step.out
    named.update(t for t, k in readers.items() if k > 1)
    lines = list(header)
    weights: dict[str, np.ndarray] = {}
    label_of: dict[str, str | None] = {source: None}  # tensor → the label that names it (None: not yet)
    if source in named:  # `input` takes no label: an identity (no parameters, no cost) names it
        label_of[source] = _name("x", taken, "x")
        lines.append(f"{label_of[source]}: identity")
    current = source

    def ref(tensor: str) -> str:
        label = label_of.get(tensor)
        if label is None:
            raise CnnError(f"tensor {tensor} is read before cnndsl can name it (the input cannot be a merge's operand)",
                           hint="cnndsl merges layers' outputs")
        return label

    def read(tensor: str) -> None:
        """Make `tensor` the current one (a `from @label` if it is not)."""
        nonlocal current
        if tensor != current:
            lines.append(f"from @{ref(tensor)}")
            current = tensor

    for step in steps:
        label = _name(step.hint, taken, step.statement.split()[0]) if step.weights else None
        if step.merge:
            first, *rest = step.inputs
            if step.merge != "concat" and current in step.inputs:  # add and mul commute: the current one first
                first = current
                rest = ([d for d in step.inputs if d != current] if step.inputs.count(current) == 1
                        else step.inputs[1:])
            read(first)
            text = f"{step.merge} " + " ".join(f"@{ref(r)}" for r in rest)
        else:
            read(step.inputs[0])
            text = step.statement
        if label is None and step.out in named:
            label = _name(step.hint, taken, "t")
        lines.append(f"{label}: {text}" if label else text)
        weights.update({f"{label}.{k}": v for k, v in step.weights.items()})
        label_of[step.out] = label
        current = step.out
    if current != output:
        read(output)
        lines.append("identity")
    return Imported("\n".join(lines) + "\n", weights)


# ---- structure: branches, residuals and blocks --------------------------------------------------------

class _Unstructured(Exception):
    """The graph is not series-parallel from its input: written flat, with labels."""


FUSED = ("bn", "relu", "relu6", "tanh", "sigmoid", "leakyrelu", "identity", "softmax")  # go on the line before
ACTIVATIONS = ("relu", "relu6", "tanh", "sigmoid", "leakyrelu")
_INT = re.compile(r"(?<![\w.\-])(\d+)(?![\w.])")


def _tree(steps: list[Step], source: str, output: str) -> list:
    """The steps as nested statements: ("layer", step) and ("merge", step, [branch, …]), each branch the
    statements from the fork (the merge's immediate dominator) to one of the merge's inputs."""
    import networkx as nx
    g = nx.DiGraph()
    g.add_node(source)
    producer = {s.out: s for s in steps}
    for s in steps:
        for i in s.inputs:
            g.add_edge(i, s.out)
    if output not in g:
        raise _Unstructured
    idom = nx.immediate_dominators(g, source)

    budget = [4 * len(steps) + 16]  # a tree visits each step once: more means shared paths, so not a tree

    def seq(start: str, end: str, depth: int = 0) -> list:
        if depth > 200:
            raise _Unstructured
        items, cur = [], end
        while cur != start:
            budget[0] -= 1
            if budget[0] < 0:
                raise _Unstructured
            s = producer.get(cur)
            if s is None or cur not in idom:
                raise _Unstructured
            if s.merge:
                fork = idom[cur]
                items.append(("merge", s, [seq(fork, i, depth + 1) for i in s.inputs]))
                cur = fork
            else:
                items.append(("layer", s))
                cur = s.inputs[0]
        return items[::-1]

    tree = seq(source, output)
    seen: list[str] = []

    def walk(items):
        for item in items:
            seen.append(item[1].out)
            if item[0] == "merge":
                for b in item[2]:
                    walk(b)
    walk(tree)
    if len(seen) != len(set(seen)) or set(seen) != {s.out for s in steps}:
        raise _Unstructured  # a tensor read from outside its branch, or a step that does not reach the output
    return tree


def _render(items: list, indent: str, order: list[Step]) -> list[str]:
    """Statements as lines; `order` collects the steps with weights in the order cnndsl will build them."""
    lines: list[str] = []
    for item in items:
        if item[0] == "layer":
            step = item[1]
            if step.weights:
                order.append(step)
            head = step.statement.split()[0]
            if lines and head in FUSED and not lines[-1].rstrip().endswith(("{", "}")):
                lines[-1] += "; " + step.statement
            else:
                lines.append(indent + step.statement)
            continue
        step, branches = item[1], item[2]
        if step.merge == "add" and len(branches) == 2:
            body, skip = sorted(branches, key=len, reverse=True)  # the longer path is the body
            inner = _render(body, indent + "  ", order)
            if skip:
                short = _render(skip, indent + "  ", order)
                lines += [indent + "residual {", *inner, indent + "} shortcut {", *short, indent + "}"]
            else:
                lines += [indent + "residual {", *inner, indent + "}"]
            continue
        lines.append(indent + f"{step.merge} {{")
        for b in branches:
            inner = _render(b, indent + "    ", order)
            if len(inner) > 1 and all(not line.rstrip().endswith(("{", "}")) for line in inner) \
                    and sum(len(line.strip()) + 2 for line in inner) <= 64:
                inner = [indent + "    " + "; ".join(line.strip() for line in inner)]
            if len(inner) <= 1:
                lines.append(indent + "  branch { " + (inner[0].strip() if inner else "") + (" }" if inner else "}"))
            else:
                lines += [indent + "  branch {", *inner, indent + "  }"]
        lines.append(indent + "}")
    return lines


def _units(tree: list) -> list[list]:
    """The top level cut into units: a merge with the activations after it, or a single layer."""
    units: list[list] = []
    for item in tree:
        if (item[0] == "layer" and units and units[-1][0][0] == "merge"
                and item[1].statement.split()[0] in ACTIVATIONS and item[1].statement in ACTIVATIONS):
            units[-1].append(item)
        else:
            units.append([item])
    return units


def _template(unit: list) -> str:
    """The unit's text with its whole numbers left out: equal for units that can share a block."""
    return _INT.sub("#", "\n".join(_render(unit, "", [])))


def _groups(units: list[list]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for k, unit in enumerate(units):
        if any(item[0] == "merge" for item in unit):
            groups.setdefault(_template(unit), []).append(k)
    return groups


def _extend(units: list[list]) -> list[list]:
    """A repeated unit takes in the single layers before it while every occurrence has the same ones
    (SqueezeNet's squeeze convolution before each Fire module's two branches)."""
    groups = [m for m in _groups(units).values() if len(m) >= 2]
    members = {k for m in groups for k in m}
    claimed: set[int] = set()
    start = {}
    for group in groups:
        k = 0
        while True:
            before = [m - k - 1 for m in group]
            if any(b < 0 or b in claimed or b in members or len(units[b]) != 1 or units[b][0][0] != "layer"
                   for b in before) or len({_template(units[b]) for b in before}) != 1:
                break
            k += 1
        for m in group:
            start[m] = m - k
            claimed.update(range(m - k, m))
    out, k = [], 0
    while k < len(units):
        if k in claimed:
            k += 1
            continue
        lo = start.get(k, k)
        out.append([item for u in units[lo:k + 1] for item in u])
        k += 1
    return out


def _block_name(unit: list, taken: set[str]) -> str:
    step, branches = next((item[1], item[2]) for item in unit if item[0] == "merge")
    if step.merge == "add" and len(branches) == 2:
        base = "res" if not all(branches) else "proj"
    else:
        base = {"concat": "mixed", "add": "sum", "mul": "gate"}[step.merge]
    return fresh(base, taken)


def _structured(header: list[str], steps: list[Step], source: str, output: str) -> Imported:
    """Branches as `concat { branch … }` and `residual { } shortcut { }`; a unit (a merge and the
    activations after it) that occurs twice or more with the same structure becomes a block whose
    parameters are the numbers that differ between its calls."""
    import cnndsl
    units = _extend(_units(_tree(steps, source, output)))
    rendered = []  # per unit: (lines, weighted steps in order)
    groups: dict[str, list[int]] = {}
    for k, unit in enumerate(units):
        order: list[Step] = []
        lines = _render(unit, "", order)
        rendered.append((unit, lines, order))
        if any(item[0] == "merge" for item in unit):
            groups.setdefault(_INT.sub("#", "\n".join(lines)), []).append(k)
    defs, calls, taken = [], {}, set()
    for template, members in groups.items():
        if len(members) < 2:
            continue
        texts = ["\n".join(rendered[k][1]) for k in members]
        values = [[int(m.group(1)) for m in _INT.finditer(t)] for t in texts]
        spans = [(m.start(1), m.end(1)) for m in _INT.finditer(texts[0])]
        params: list[str] = []
        names: dict[tuple, str] = {}
        slot: list[str | None] = []
        for j, (lo, hi) in enumerate(spans):
            column = tuple(v[j] for v in values)
            if len(set(column)) == 1:
                slot.append(None)
                continue
            if column not in names:
                before = texts[0][:lo]
                kind = re.search(r"(\w+)[ =]$", before)
                base = "c" if kind and kind.group(1) in ("conv", "dense") else (kind.group(1) if kind else "n")
                name, n = base, 1
                while name in params:
                    n += 1
                    name = f"{base}{n}"
                names[column] = name
                params.append(name)
            slot.append(names[column])
        body, last = [], 0
        for (lo, hi), name in zip(spans, slot):
            body.append(texts[0][last:lo] + (name or texts[0][lo:hi]))
            last = hi
        body.append(texts[0][last:])
        block = _block_name(rendered[members[0]][0], taken)
        text = "".join(body)
        defs += [f"block {block}({', '.join(params)}) {{", *("  " + line for line in text.splitlines()), "}", ""]
        for k, v in zip(members, values):
            args = [next(v[j] for j, s in enumerate(slot) if s == p) for p in params]
            calls[k] = f"{block}({', '.join(map(str, args))})"
    lines = list(header) + ([""] + defs if defs else [])
    order: list[Step] = []
    for k, (unit, unit_lines, unit_order) in enumerate(rendered):
        if k in calls:
            lines.append(calls[k])
        elif (len(unit_lines) == 1 and unit_lines[0].split()[0] in FUSED and len(lines) > 2
              and not lines[-1].endswith(("{", "}", ")")) and lines[-1]):
            lines[-1] += "; " + unit_lines[0]  # conv 64 3x3; bn; relu
        else:
            lines += unit_lines
        order += unit_order
    text = "\n".join(lines).rstrip() + "\n"
    try:
        net = cnndsl.parse(text, "imported.cnn")
    except CnnError as e:
        raise _Unstructured from e
    layers = [n for n in net.graph if net.node(n).params]
    weights: dict[str, np.ndarray] = {}
    if len(layers) != len(order):
        raise _Unstructured
    for name, step in zip(layers, order):
        node = net.node(name)
        want = {**node.params, **node.state}
        if set(want) != set(step.weights) or any(tuple(step.weights[k].shape) != tuple(s) for k, s in want.items()):
            raise _Unstructured
        weights.update({f"{name}.{k}": v for k, v in step.weights.items()})
    return Imported(text, weights)


def import_file(path, out, weights_out=None) -> tuple:
    """Read an .onnx file, write the .cnn text (checked by cnndsl first) and, if asked, the weights."""
    import cnndsl
    from ..files import write_npz, write_text
    onnx = need_onnx()
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf's errors name no file
        raise CnnError(f"cannot read {path} as an ONNX model: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    stem = re.sub(r"\W+", "_", Path(path).stem).strip("_")
    imported = import_onnx(model, name=None if model.graph.name not in GENERIC_NAMES else
                           (stem[:1].upper() + stem[1:] if stem[:1].isalpha() else "Imported"))
    net = cnndsl.parse(imported.text, str(out))
    shapes = {f"{n}.{k}": s for n in net.layers for k, s in {**net.node(n).params, **net.node(n).state}.items()}
    wrong = [k for k, s in shapes.items() if k not in imported.weights or imported.weights[k].shape != tuple(s)]
    if wrong:
        raise CnnError(f"the imported weights do not fit the text at {', '.join(wrong[:3])}",
                       hint="this is a bug of the importer: please report the model")
    write_text(out, imported.text, "--output")
    if weights_out:
        write_npz(weights_out, imported.weights, "--weights-out")
    return net, imported
