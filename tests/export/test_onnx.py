"""ONNX export: the model passes onnx.checker with full shape inference, ONNX Runtime computes what
cnndsl's engine does (relative error ≤ 1e-4) on every op of the language and every shipped
architecture, names and shapes are the graph's, and the CLI writes it."""

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.export.onnx import to_onnx

from ..conftest import net_of

EVERY_OP = [
    ("conv 6 3x5 stride=2x1 pad=1x2 dilation=2 groups=3; relu\nmaxpool 3 stride=2 ceil=true\nbn; relu6\n"
     "gap\nflatten\ndense 7\nsoftmax", "3x17x19"),
    ("conv 8 3x3 pad=1 bias=false; leakyrelu slope=0.1\navgpool 3 stride=2 pad=1\nlrn size=3 alpha=0.01 beta=0.75 k=1\n"
     "a: conv 8 1x1; sigmoid\nb: conv 8 1x1; tanh\nadd @a @b\nidentity\ndropout 0.3\nflatten\nbn\ndense 5", "2x12x12"),
    ("concat { branch { conv 4 1x1 } branch { maxpool 3x3 stride=1 pad=1 } }\nresidual { conv 6 3x3 pad=1 } "
     "shortcut { conv 6 1x1 }\ns: conv 6 1x1\ngmp\nmul @s\navgpool 2x2 ceil=true\naux { gap; flatten; dense 3 }\n"
     "flatten\ndense 3", "2x9x9"),
]


def runtime(model, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def with_statistics(net, seed: int = 1):
    """Batch norm with running statistics that are not 0 and 1, so that exporting them matters."""
    rng = np.random.default_rng(seed)
    for key, array in net.buffers.items():
        array[...] = rng.uniform(0.5, 1.5, array.shape) if key.endswith("var") else rng.normal(0, 0.5, array.shape)
    return net


def agree(net, batch: int = 2, seed: int = 0):
    model = to_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(seed).standard_normal((batch, *net.input_shape)).astype(np.float32)
    want, got = net.forward(x, grad=False), runtime(model, x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    return model


@pytest.mark.parametrize("body, shape", EVERY_OP)
def test_every_op_runs_the_same_in_onnx_runtime(body, shape):
    agree(with_statistics(net_of(body, shape).init(3)))


def test_names_shapes_and_metadata_are_the_graphs():
    net = cnndsl.load("googlenet").init(0)
    model = to_onnx(net)
    nodes = {n.name for n in model.graph.node}
    assert "inception3a.b2.conv2" in nodes and not any(n.startswith("aux") for n in nodes)  # aux heads dropped
    assert model.graph.output[0].name == net.output and model.graph.node[-1].op_type == "Softmax"
    assert {i.name for i in model.graph.initializer} == {k for k in net.params if not k.startswith("aux")}
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    assert shapes["inception3a.concat1"] == ["N", 256, 28, 28]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["network"] == "GoogLeNet" and props["source"].endswith("googlenet.cnn")
    assert model.opset_import[0].version >= 17


def test_lrn_alpha_is_divided_by_size_for_onnx():
    net = net_of("conv 8 3x3\nlrn size=5 alpha=1e-4 beta=0.75 k=2", "3x8x8").init(0)  # AlexNet's LRN
    (lrn,) = [n for n in agree(net).graph.node if n.name == "lrn1"]
    alpha = {a.name: a.f for a in lrn.attribute}["alpha"]
    assert abs(alpha - 1e-4 * 5) < 1e-9  # (a float32 attribute) the paper's α multiplies the sum; ONNX's is divided by size


def test_a_ceil_window_onnx_would_size_differently_is_refused():
    net = net_of("maxpool 2 stride=2 pad=1 ceil=true", "1x5x5").init(0)  # PyTorch drops the last window
    with pytest.raises(CnnError, match="ceil mode ONNX makes"):
        to_onnx(net)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet5", "alexnet", "alexnet2012", "vgg16", "googlenet", "resnet18", "resnet50"])
def test_every_shipped_architecture_runs_the_same_in_onnx_runtime(name):
    agree(with_statistics(cnndsl.load(name).init(0)), batch=1)


@pytest.mark.slow  # the command end to end, in a subprocess
def test_the_cli_writes_a_checked_model(tmp_path):
    weights, out = tmp_path / "w.npz", tmp_path / "lenet.onnx"
    net = cnndsl.load("lenet5").init(5)
    net.save_weights(weights)
    run = subprocess.run([sys.executable, "-m", "cnndsl", "export", "lenet5", "--weights", str(weights), "-o", str(out),
                          "--batch", "4"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    model = onnx.load(out)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
    x = np.random.default_rng(1).standard_normal((4, 1, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(runtime(model, x), net.forward(x, grad=False), rtol=1e-4, atol=1e-6)
    run = subprocess.run([sys.executable, "-m", "cnndsl", "export", "lenet5", "-o", str(tmp_path / "x.pt")],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "must end in .onnx" in run.stderr


def test_without_the_extra_the_cli_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['onnx'] = None; sys.argv = ['cnndsl', 'export', 'lenet5', '-o', 'x.onnx']; "
            "from cnndsl.entry import main; main()")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1 and "pip install 'cnndsl[onnx]'" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_every_op_of_the_language_is_exported_and_explained():
    """Each op has its own ONNX mapping, and the networks above use every op (so each mapping is run)."""
    from cnndsl.ops import OPS
    from cnndsl.ops.base import Op
    from cnndsl.teach.explain import explain
    ops = {name for name, op in OPS.items() if op.statement != "input"}
    assert all(type(OPS[name]).to_onnx is not Op.to_onnx for name in ops)
    used = set()
    for body, shape in EVERY_OP:
        net = net_of(body, shape)
        used |= {net.node(n).op for n in net.layers}
        for n in net.layers:
            assert explain(net, n)["steps"]
    assert used == ops
