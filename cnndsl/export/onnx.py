"""A cnndsl network as an ONNX model, written with the `onnx` package straight from the graph (no
tracing): the inference graph — aux heads dropped, a trailing softmax kept as the output — with node
and tensor names from the graph (`inception3a.b2.conv2`), the weights as initializers under their
weight keys (`conv1.weight`), every tensor's shape in value_info, and the network's name and source
in the metadata. Each op writes its own nodes (`Op.to_onnx`, in cnndsl/ops/).

    model = to_onnx(net)                   # net's current weights; batch "N" (dynamic) by default
    onnx.checker.check_model(model, full_check=True)

Needs the optional extra: pip install 'cnndsl[onnx]'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CnnError

OPSET = 17
PRODUCER = "cnndsl"


def need_onnx():
    try:
        import onnx
    except ImportError:
        raise CnnError("ONNX export needs the `onnx` package", hint="pip install 'cnndsl[onnx]'") from None
    return onnx


class OnnxGraph:
    """What an op's `to_onnx` writes into: nodes, initializers (the weights) and constants."""

    def __init__(self, net, batch):
        self.onnx = need_onnx()
        self.net = net
        self.batch = batch
        self.nodes: list = []
        self.initializers: dict[str, object] = {}
        self.params = net.params
        self.buffers = net.buffers

    def add(self, op_type: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    def weight(self, key: str) -> str:
        """The initializer of a weight or running statistic, by its key (`conv1.weight`)."""
        if key not in self.initializers:
            array = self.params[key] if key in self.params else self.buffers[key]
            self.initializers[key] = self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, np.float32), key)
        return key

    def constant(self, name: str, values, dtype=np.float32) -> str:
        if name not in self.initializers:
            self.initializers[name] = self.onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name)
        return name


def inference_nodes(net) -> list[str]:
    return [n for n in net.layers if not net.node(n).train_only]


def to_onnx(net, batch: int | str = "N", opset: int = OPSET):
    """The ONNX model of net's inference graph with its current weights. batch: a number, or a name for a
    dynamic batch dimension."""
    onnx = need_onnx()
    if opset < OPSET:
        raise CnnError(f"--opset {opset}: cnndsl writes opset {OPSET} or newer (LRN, Softmax on the last axis, "
                       "Clip with min and max as inputs)")
    if not net.params and any(net.node(n).params for n in net.layers):
        raise CnnError("the network has no weights yet", hint="call net.init(seed) or net.load_weights(path)")
    g = OnnxGraph(net, batch)
    helper = onnx.helper
    names = {"input": "input"}
    for n in inference_nodes(net):
        node = net.node(n)
        node.impl.to_onnx(node, [names[i] for i in node.inputs], n, g)
        names[n] = n
    dim = batch if isinstance(batch, int) else str(batch)

    def info(name: str, shape) -> object:
        return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [dim, *shape])
    out = net.output
    graph = helper.make_graph(
        g.nodes, net.name, [info("input", net.input_shape)], [info(out, net.output_shape)],
        initializer=list(g.initializers.values()),
        value_info=[info(n, net.node(n).shape) for n in inference_nodes(net) if n != out])
    model = helper.make_model(graph, producer_name=PRODUCER, opset_imports=[helper.make_opsetid("", opset)],
                              doc_string=f"{net.name}, exported by cnndsl from {Path(net.source).name}")
    model.ir_version = min(model.ir_version, 9)  # readable by ONNX Runtime releases of the last two years
    helper.set_model_props(model, {"network": net.name, "source": str(net.source), "exporter": "cnndsl"})
    return model


def save_onnx(net, path, batch: int | str = "N", opset: int = OPSET, check: bool = True) -> Path:
    """Write the model (atomically); check it with onnx.checker, full shape inference included."""
    from ..files import write_bytes
    onnx = need_onnx()
    model = to_onnx(net, batch, opset)
    if check:
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # onnx raises several kinds; each is a bug of the exporter, reported plainly
            raise CnnError(f"the exported model does not pass onnx.checker: {str(e).strip().splitlines()[0]}") from None
    return write_bytes(path, model.SerializeToString(), "--output")
