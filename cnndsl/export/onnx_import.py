"""ONNX → .cnn text and weights: `cnndsl import model.onnx -o net.cnn --weights-out w.npz`.

The graph is read in its (topological) order, one statement per node: a node that reads the tensor the
previous statement made follows it; one that reads another tensor starts with `from @label`; Add,
Mul and Concat become `add @a`, `mul @a`, `concat @a @b` of labelled tensors. Every layer with weights
is labelled after its ONNX node, so the weights' keys are known before the text is parsed; cnndsl then
checks the text, and the weights go out under those keys (conv weights keep ONNX's layout, which is
PyTorch's). Not yet: recovering blocks (`block` definitions and calls) from repeated structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import CnnError
from .onnx import need_onnx

SIMPLE = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Identity": "identity",
          "GlobalAveragePool": "gap", "GlobalMaxPool": "gmp"}
MERGES = {"Add": "add", "Mul": "mul", "Concat": "concat"}
SUPPORTED = set(SIMPLE) | set(MERGES) | {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "BatchNormalization",
                                         "Clip", "LeakyRelu", "LRN", "Dropout", "Flatten", "Reshape", "Softmax"}


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


def import_onnx(model) -> Imported:
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
    taken: set[str] = set()
    readers: dict[str, int] = {}
    for node in graph.node:
        for i in node.input:
            readers[i] = readers.get(i, 0) + 1
    named: set[str] = {o.name for o in graph.output}  # tensors a later statement refers to by label
    previous = inputs[0].name
    for node in graph.node:
        if node.op_type == "Constant" or node.output[0] in folded:
            continue
        data = [i for i in node.input if i and i not in values]
        if node.op_type in MERGES:
            named.update(data)
        elif data and data[0] != previous:
            named.add(data[0])
        previous = node.output[0]
    named.update(t for t, k in readers.items() if k > 1)
    lines = [f"network {_name(graph.name or 'Imported', set(), 'net').title().replace('_', '')}",
             f"input {dims[1]}x{dims[2]}x{dims[3]}"]
    weights: dict[str, np.ndarray] = {}
    label_of: dict[str, str] = {inputs[0].name: None}  # tensor → the label that names it (None: not yet)
    current = inputs[0].name

    def read(tensor: str) -> None:
        """Make `tensor` the current one (a `from @label` if it is not)."""
        nonlocal current
        if tensor != current:
            lines.append(f"from @{ref(tensor)}")
            current = tensor

    def ref(tensor: str) -> str:
        label = label_of.get(tensor)
        if label is None:
            raise CnnError(f"tensor {tensor} is read before cnndsl can name it (the input cannot be a merge's operand)",
                           hint="cnndsl merges layers' outputs")
        return label

    def emit(node, statement: str, label: str | None = None) -> None:
        nonlocal current
        out = node.output[0]
        if label is None and out in named:
            label = _name(node.name or out, taken, "t")
        lines.append(f"{label}: {statement}" if label else statement)
        label_of[out] = label
        current = out

    for node in graph.node:
        op, a = node.op_type, _attrs(node)
        if op == "Constant" or node.output[0] in folded:
            continue
        data = [i for i in node.input if i and i not in values]
        if op in MERGES:
            if op == "Concat" and a.get("axis", 1) not in (1, -3):
                raise CnnError(f"ONNX node {node.name} (Concat): axis {a.get('axis')} is not the channel axis")
            first, *rest = data
            if op != "Concat" and current in data:  # add and mul commute: keep the current tensor first
                first = current
                rest = [d for d in data if d != current] if data.count(current) == 1 else data[1:]
            read(first)
            emit(node, f"{MERGES[op]} " + " ".join(f"@{ref(r)}" for r in rest))
            continue
        read(data[0])
        name = None
        if op == "Conv":
            w = values[node.input[1]]
            name = _name(node.name or "conv", taken, "conv")
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
            weights[f"{name}.weight"] = w
            if len(node.input) > 2 and node.input[2]:
                weights[f"{name}.bias"] = values[node.input[2]]
            else:
                parts.append("bias=false")
            statement = " ".join(parts)
        elif op in ("Gemm", "MatMul"):
            w = values[node.input[1]]
            if op == "Gemm" and (a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0)):
                raise CnnError(f"ONNX node {node.name} (Gemm): only alpha = beta = 1 without transA is supported")
            w = w if op == "Gemm" and a.get("transB", 0) else w.T
            name = _name(node.name or "dense", taken, "dense")
            weights[f"{name}.weight"] = np.ascontiguousarray(w)
            bias = op == "Gemm" and len(node.input) > 2 and node.input[2]
            if bias:
                weights[f"{name}.bias"] = np.broadcast_to(values[node.input[2]], (w.shape[0],)).copy()
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
            name = _name(node.name or "bn", taken, "bn")
            for key, i in (("weight", 1), ("bias", 2), ("running_mean", 3), ("running_var", 4)):
                weights[f"{name}.{key}"] = values[node.input[i]]
            statement = f"bn eps={a.get('epsilon', 1e-5):g}"
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
        elif op == "Dropout":
            statement = "identity"  # an inference graph: dropout passes its input on
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
        emit(node, statement, name)
    output = graph.output[0].name
    if current != output:
        read(output)
        lines.append("identity")
    return Imported("\n".join(lines) + "\n", {k: np.asarray(v, np.float32) for k, v in weights.items()})


def import_file(path, out, weights_out=None) -> tuple:
    """Read an .onnx file, write the .cnn text (checked by cnndsl first) and, if asked, the weights."""
    import cnndsl
    from ..files import write_npz, write_text
    onnx = need_onnx()
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf's errors name no file
        raise CnnError(f"cannot read {path} as an ONNX model: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    imported = import_onnx(model)
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
