"""`cnndsl export --to pytorch`: the source runs, its parameter names are cnndsl's keys, and its forward and
every gradient equal the engine's (shipped networks) and the graph module's (networks written to stress the
class layout: nested blocks, repeats, splits, labels, every op). Hand-written twins check it independently
in test_torch.py."""

import re
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.export.pytorch import save_source, to_source  # noqa: E402
from cnndsl.export.torch import to_torch  # noqa: E402

from ..conftest import net_of  # noqa: E402
from ..torch_oracle import rel_err  # noqa: E402
from .test_onnx import EVERY_OP, with_statistics  # noqa: E402


def build(net, dtype=torch.float64):
    """The exported module, built from its source, holding the network's weights."""
    source = to_source(net)
    namespace: dict = {}
    exec(compile(source, f"{net.name}.py", "exec"), namespace)
    top = re.findall(r"^class (\w+)\(nn\.Module\)", source, re.M)[-1]
    model = namespace[top]().to(dtype)
    namespace["load_weights"](model, net.state_dict())
    return model, namespace, source


def both(net, x, train: bool, dtype=torch.float64):
    """(exported, graph module) outputs, input gradients and parameter gradients for one dy."""
    ours, ns, _ = build(net, dtype)
    oracle = to_torch(net, dtype)
    results = []
    for module in (ours, oracle):
        module.train(train)
        torch.manual_seed(0)
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        y = module(xt)
        dy = torch.tensor(np.random.default_rng(5).standard_normal(tuple(y.shape)), dtype=dtype)
        loss = (y * dy).sum()
        if train and module is ours:
            for head in ns["aux_outputs"](ours).values():
                loss = loss + head.sum()
        elif train:
            for head in module.aux_outputs.values():
                loss = loss + head.sum()
        loss.backward()
        grads = {k: v.grad.detach().numpy() if v.grad is not None else np.zeros(tuple(v.shape))
                 for k, v in module.named_parameters()}
        results.append((y.detach().numpy(), xt.grad.numpy(), grads))
    return results


def assert_same(net, shape_batch=2, tol=1e-10, train_too=True):
    x = np.random.default_rng(0).standard_normal((shape_batch, *net.input_shape))
    for train in (False, True) if train_too else (False,):
        (y, dx, grads), (y0, dx0, grads0) = both(net, x, train)
        assert rel_err(y, y0) < tol
        assert rel_err(dx, dx0) < tol
        graph_keys = {k.replace("__", "."): v for k, v in grads0.items()}
        assert set(grads) == {k.removeprefix("weights.") for k in graph_keys}
        for k, g in grads.items():
            assert rel_err(g, graph_keys["weights." + k]) < tol, (train, k)


SHAPES = [
    # nested blocks; a repeat whose count is a parameter (two classes: Stage, Stage2); `cin` and a
    # parameter's expression (ch * 2) written once for every call
    ("""block unit(ch, stride=1) {
  conv ch 3x3 stride=stride pad=1 bias=false; bn; relu
}
block stage(ch, n) {
  unit(ch, stride=2)
  repeat n { residual { unit(ch); conv ch 1x1 } }
  conv ch * 2 1x1
}
conv 8 3x3 pad=1
stage(8, 1)
stage(16, 2)
stage(32, 2)
gap
flatten
dense 10""", "3x32x32"),
    # a block whose dense layer's input size differs between calls (one class per size), in an aux head
    ("""block head(k) { flatten; dense k; relu }
block pair() { conv 4 1x1; maxpool 2 }
conv 4 3x3 pad=1
aux weight=0.5 { head(6) }
pair()
head(6)""", "3x8x8"),
    # labels read later, `from`, add/mul of references, a keyword as a label, branches within branches
    ("""a: conv 8 3x3 pad=1
b: conv 8 1x1
from @a
class: conv 8 3x3 pad=1; relu
add @b
mul @class
concat {
  branch { conv 4 1x1; concat { branch { relu } branch { sigmoid } } }
  branch { avgpool 3 stride=1 pad=1 }
}
concat { branch { conv 2 1x1 } branch { conv 2 1x1 } }
gap
flatten
dense 3""", "3x6x6"),
]


@pytest.mark.parametrize("body, shape", EVERY_OP + SHAPES)
def test_the_source_computes_what_the_graph_does(body, shape):
    assert_same(with_statistics(net_of(body, shape).init(2)))


def test_the_layout_of_the_classes():
    source = to_source(net_of(*SHAPES[0]))
    assert re.findall(r"^class (\w+)", source, re.M) == ["Unit", "Stage", "Stage2", "T"]
    assert "nn.Conv2d(cin, ch, 3, stride=stride, padding=1, bias=False)" in source
    assert "nn.Conv2d(ch, ch * 2, 1)" in source
    assert re.search(r"self\.stage2 = Stage2\(cin=16, ch=16, n=2\)", source)
    heads = to_source(net_of(*SHAPES[1]))
    assert re.findall(r"^class (\w+)", heads, re.M) == ["Head", "Head2", "Pair", "T"]
    labels = to_source(net_of(*SHAPES[2]))
    assert "self.add_module('class', nn.Conv2d(8, 8, 3, padding=1))" in labels
    assert "class_ = self.get_submodule('class')(a)\n        x = F.relu(class_)" in labels
    assert "self.b1.b1 = nn.Module()" not in labels  # no container without a module in it


def test_resnet18_reads_like_its_cnn_file():
    source = to_source(cnndsl.load("resnet18"))
    assert re.findall(r"^class (\w+)", source, re.M) == ["Basic", "Down", "ResNet18"]
    assert "    def __init__(self, *, cin, ch, stride=1):" in source
    assert "self.layer2_0 = Down(cin=64, ch=128)" in source
    assert "self.layer1_0 = Basic(cin=64, ch=64)" in source
    body = source[source.index("class Basic"):source.index("class Down")]
    assert body.split("def forward(self, x):")[1].split() == (
        "identity = x x = F.relu(self.bn1(self.conv1(x))) x = self.bn2(self.conv2(x)) x = x + identity "
        "return F.relu(x)").split()
    source = to_source(cnndsl.load("googlenet"))
    assert re.findall(r"^class (\w+)", source, re.M) == ["Inception", "AuxHead", "GoogLeNet"]
    assert "self.b2.conv2 = nn.Conv2d(n3x3red, n3x3, 3, padding=1)" in source
    assert "nn.LocalResponseNorm(5, alpha=0.0005)" in source  # PyTorch divides alpha by size


def l2_err(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / ‖b‖. Float32 against float64 through a deep network flips the odd ReLU whose input is within
    rounding of 0 (ResNet-18 here: one of 200,704 at layer1_1.bn1, |x| < 1e-5), which moves that element of
    the gradient by its own size and, through the layers below, every gradient there by up to a few 1e-3."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


SHIPPED = ["lenet5", "googlenet", "resnet18"] + [pytest.param(n, marks=pytest.mark.slow)
                                                 for n in ("alexnet", "alexnet2012", "vgg16", "resnet50")]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_architecture_equals_the_engine(name):
    """Forward and every gradient: the exported module (float64) against the graph module, exactly, and
    against cnndsl's engine (float32) within float32's reach."""
    net = with_statistics(cnndsl.load(name).init(1))
    model, ns, _ = build(net)
    graph = to_torch(net, torch.float64).eval()
    x = np.random.default_rng(0).standard_normal((1, *net.input_shape)).astype(np.float32)
    model.eval()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = model(xt)
    want = net.forward(x, mode="eval")
    dy = np.random.default_rng(1).standard_normal(want.shape).astype(np.float32)
    net.backward(dy)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    x0 = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y0 = graph(x0)
    y0.backward(torch.tensor(dy, dtype=torch.float64))
    assert rel_err(y.detach().numpy(), y0.detach().numpy()) < 1e-10
    assert rel_err(xt.grad.numpy(), x0.grad.numpy()) < 1e-10
    assert rel_err(y.detach().numpy(), want) < 1e-4
    assert l2_err(net.input_grad, xt.grad.numpy()) < 2e-2
    grads, exact = dict(model.named_parameters()), graph.grads()
    assert set(net.grads) <= set(grads) and set(grads) == set(exact)
    for key, g in net.grads.items():
        assert rel_err(grads[key].grad.numpy(), exact[key]) < 1e-10, key
        assert l2_err(g, grads[key].grad.numpy()) < 2e-2, key


def test_load_weights_reads_saved_weights_and_checkpoints(tmp_path):
    net = with_statistics(cnndsl.load("lenet5").init(4))
    path = tmp_path / "w.npz"
    net.save_weights(path)
    model, ns, _ = build(net, torch.float32)
    fresh = type(model)()
    ns["load_weights"](fresh, str(path))
    for k, v in fresh.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert np.array_equal(v.numpy(), net.state_dict()[k]), k
    with pytest.raises(KeyError, match="missing"):
        ns["load_weights"](fresh, {"conv1.weight": net.state_dict()["conv1.weight"]})


def test_the_cli_writes_a_module_python_imports(tmp_path):
    out = tmp_path / "resnet.py"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "export", "resnet18", "--to", "pytorch", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "class ResNet18" in run.stdout
    check = subprocess.run([sys.executable, "-c", "import resnet; m = resnet.ResNet18(); "
                            "print(sum(p.numel() for p in m.parameters()))"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert check.stdout.strip() == "11689512", check.stderr
    bad = subprocess.run([sys.executable, "-m", "cnndsl", "export", "resnet18", "--to", "pytorch", "-o",
                          str(tmp_path / "x.py"), "--weights", "w.npz"], capture_output=True, text=True)
    assert bad.returncode != 0 and "load_weights" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.py").exists()


def test_save_source_names_the_class(tmp_path):
    assert save_source(cnndsl.load("googlenet"), tmp_path / "g.py") == "GoogLeNet"
    assert (tmp_path / "g.py").read_text().startswith('"""GoogLeNet as PyTorch modules')
