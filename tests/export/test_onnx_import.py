"""ONNX import: models exported by PyTorch (independent of cnndsl) and cnndsl's own exports come back as
.cnn text whose network computes what ONNX Runtime does, with the model's parameter count; an op cnndsl
lacks is named with its node."""

import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.export.onnx import to_onnx
from cnndsl.export.onnx_import import import_file, import_onnx

from . import torchvision_twins as twins


class Inceptionish(nn.Module):
    """Branches concatenated, a residual add, LeakyReLU, ReLU6, grouped convolution, average pooling with
    padding. (PyTorch's exporter spells LocalResponseNorm out in a dozen ops; LRN's import is checked by the
    round trip of AlexNet 2012.)"""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.LeakyReLU(0.2))
        self.b1 = nn.Conv2d(8, 4, 1)
        self.b2 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU6(), nn.Conv2d(4, 6, 3, padding=1, groups=2))
        self.b3 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(8, 2, 1))
        self.res = nn.Sequential(nn.Conv2d(12, 12, 3, padding=1, bias=False), nn.BatchNorm2d(12))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.fc = nn.Linear(12 * 8 * 8, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.b1(x), self.b2(x), self.b3(x)], 1)
        x = torch.relu(x + self.res(x))
        x = self.pool(x)
        return torch.softmax(self.fc(torch.flatten(x, 1)), 1)


def exported(module: nn.Module, shape, path) -> onnx.ModelProto:
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(1, *shape),), str(path), dynamo=False, input_names=["input"],
                          opset_version=17)
    return onnx.load(str(path))


def onnx_params(model) -> int:
    """The float weights every node reads, once per reader (PyTorch's exporter shares equal initializers
    between layers — fresh batch norms' ones and zeros — through Identity nodes); a batch norm's running
    statistics are not parameters."""
    inits = {t.name: t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    source = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity" and n.input[0] in inits}
    return sum(int(np.prod(inits[source.get(i, i)].dims)) for n in model.graph.node if n.op_type != "Identity"
               for i in (n.input[:3] if n.op_type == "BatchNormalization" else n.input) if source.get(i, i) in inits)


def same_as_runtime(path, net, shape):
    x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)  # the export's fixed batch
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    got = net.forward(x, grad=False)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_a_pytorch_export_comes_back_as_text_that_computes_the_same(tmp_path):
    torch.manual_seed(0)
    module = Inceptionish()
    with torch.no_grad():
        module.res[1].running_mean.uniform_(-0.5, 0.5)
        module.res[1].running_var.uniform_(0.5, 1.5)
    model = exported(module, (3, 32, 32), tmp_path / "m.onnx")
    net, imported = import_file(tmp_path / "m.onnx", tmp_path / "m.cnn", tmp_path / "w.npz")
    # the branches come back as branches, the residual add as a residual (PyTorch folded its batch norm)
    assert "concat {\n  branch { conv 4 1x1 }\n" in imported.text and "groups=2" in imported.text
    assert "residual {\n  conv 12 3x3 pad=1\n}\nrelu" in imported.text
    # PyTorch folded the batch norm into the convolution before it (24 parameters become 12 biases): the
    # imported network has the model's parameters, every initializer's
    assert net.param_count == sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert net.param_count == sum(p.numel() for p in module.parameters()) - 24 + 12
    net = cnndsl.load(tmp_path / "m.cnn").load_weights(tmp_path / "w.npz")
    same_as_runtime(tmp_path / "m.onnx", net, (3, 32, 32))


@pytest.mark.parametrize("name", ["lenet5"])
def test_round_trip_of_a_shipped_architecture(name, tmp_path):
    """Export, import: the same inference network (LRN's α converted there and back), bit for bit."""
    net = cnndsl.load(name).init(0)
    onnx.save(to_onnx(net), tmp_path / "n.onnx")
    back, _ = import_file(tmp_path / "n.onnx", tmp_path / "n.cnn", tmp_path / "w.npz")
    assert (back.param_count, back.macs) == (net.inference_param_count, net.inference_macs)
    back = cnndsl.load(tmp_path / "n.cnn").load_weights(tmp_path / "w.npz")
    x = np.random.default_rng(1).standard_normal((1, *net.input_shape)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x, grad=False), net.forward(x, grad=False))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "alexnet2012", "vgg16", "googlenet", "resnet18", "resnet50"])
def test_round_trip_of_the_large_shipped_architectures(name, tmp_path):
    test_round_trip_of_a_shipped_architecture(name, tmp_path)


def test_round_trips_recover_the_blocks(tmp_path):
    """ResNet-18's basic and projection blocks and GoogLeNet's Inception module come back as blocks with
    the numbers that differ between their calls as parameters."""
    text = import_onnx(to_onnx(cnndsl.load("resnet18").init(0))).text
    assert "block res(c) {\n  residual {\n    conv c 3x3 pad=1 bias=false; bn; relu\n" in text
    assert "} shortcut {\n    conv c 1x1 stride=2 bias=false; bn\n  }\n  relu\n}" in text
    assert [line for line in text.splitlines() if line.startswith(("res(", "proj("))] == [
        "res(64)", "res(64)", "proj(128)", "res(128)", "proj(256)", "res(256)", "proj(512)", "res(512)"]
    text = import_onnx(to_onnx(cnndsl.load("googlenet").init(0))).text
    assert "block mixed(c, c2, c3, c4, c5, c6) {" in text and text.count("mixed(") == 10
    assert "    branch { conv c2 1x1; relu; conv c3 3x3 pad=1; relu }" in text
    assert "mixed(64, 96, 128, 16, 32, 32)" in text


def test_a_graph_that_is_not_series_parallel_is_written_flat():
    class Crossing(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 1)

        def forward(self, x):
            a, b = self.a(x), self.b(x)
            c = torch.relu(a + b)
            return self.c(c) + b  # b is read inside the first merge's branches and again after it

    import io
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Crossing().eval(), (torch.randn(1, 3, 8, 8),), buffer, dynamo=False, input_names=["input"])
    model = onnx.load_from_string(buffer.getvalue())
    imported = import_onnx(model)
    assert "from @" in imported.text and "add @" in imported.text and "residual" not in imported.text
    net = cnndsl.parse(imported.text).load_state_dict(imported.weights)
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    want = session.run(None, {"input": x})[0]
    assert np.abs(net.forward(x, grad=False) - want).max() <= 1e-4 * np.abs(want).max()


TORCHVISION = [pytest.param(n, marks=() if n in ("resnet18", "mobilenet_v2") else pytest.mark.slow)
               for n in twins.MODELS]


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvisions_models_come_back_with_their_params_macs_and_outputs(name, tmp_path):
    """torch.onnx.export of each model (written out after torchvision's, random weights, random batch norm
    statistics), imported: the params of the ONNX model, the MACs counted from the PyTorch model, ONNX
    Runtime's output; ResNet's and MobileNetV2's repeated units as blocks."""
    build, size = twins.MODELS[name]
    torch.manual_seed(0)
    module = build()
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    assert sum(p.numel() for p in module.parameters()) == twins.PARAMS[name]
    shape = (3, size, size)
    model = exported(module, shape, tmp_path / f"{name}.onnx")
    net, imported = import_file(tmp_path / f"{name}.onnx", tmp_path / f"{name}.cnn", tmp_path / "w.npz")
    assert net.param_count == onnx_params(model)
    assert net.macs == twins.macs(module, shape)
    net = cnndsl.load(tmp_path / f"{name}.cnn").load_weights(tmp_path / "w.npz")
    same_as_runtime(tmp_path / f"{name}.onnx", net, shape)
    if name.startswith(("resnet", "mobilenet", "googlenet", "squeezenet")):
        assert "block " in imported.text, imported.text[:400]
    if name == "squeezenet1_0":  # the Fire module, its squeeze convolution included
        assert "block mixed(c, c2) {\n  conv c 1x1; relu\n  concat {\n" in imported.text
        assert imported.text.count("mixed(") == 9


def test_an_op_cnndsl_lacks_is_named_with_its_node(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):
            return torch.nn.functional.elu(x) * 2

    model = exported(nn.Sequential(nn.Conv2d(1, 2, 3), Odd()), (1, 8, 8), tmp_path / "odd.onnx")
    with pytest.raises(CnnError, match=r"cannot import: .*\(Elu\)"):
        import_onnx(model)


@pytest.mark.slow  # the command end to end, in a subprocess
def test_the_cli_writes_text_and_weights(tmp_path):
    onnx.save(to_onnx(cnndsl.load("lenet5").init(2)), tmp_path / "l.onnx")
    run = subprocess.run([sys.executable, "-m", "cnndsl", "import", str(tmp_path / "l.onnx"), "-o", str(tmp_path / "l.cnn"),
                          "--weights-out", str(tmp_path / "l.npz")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "61,706 params" in run.stdout and (tmp_path / "l.npz").exists()
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    run = subprocess.run([sys.executable, "-m", "cnndsl", "import", str(tmp_path / "bad.onnx"), "-o", str(tmp_path / "b.cnn")],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "cannot read" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "b.cnn").exists()
