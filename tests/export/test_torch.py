"""The exporters — cnndsl.export.torch (the other tests' oracle) and the PyTorch source of `cnndsl export
--to pytorch` — against independent PyTorch twins: nn.Modules written by hand, as a PyTorch user would (after
torchvision's LeNet-5, AlexNet and ResNet-18), holding cnndsl's weights. So neither exporter is its own judge."""

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import cnndsl  # noqa: E402
from cnndsl.export.torch import to_torch  # noqa: E402

from ..torch_oracle import rel_err  # noqa: E402
from .test_pytorch_source import build  # noqa: E402
from . import torchvision_twins as twins  # noqa: E402
from .torchvision_twins import BasicBlock  # noqa: E402
from cnndsl.network import resolve  # noqa: E402


def lenet5_twin() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        nn.Softmax(dim=1))


def copy(module_params, net, names) -> None:
    """Load cnndsl's weights into a twin, parameter by parameter, in the order given."""
    with torch.no_grad():
        for tensor, key in zip(module_params, names):
            tensor.copy_(torch.tensor(net.state_dict()[key]))


def compare(net, twin, x, train: bool) -> None:
    """The twin against both exporters: outputs, input gradients and every parameter gradient (the twin's
    parameters are in cnndsl's order)."""
    twin = twin.double().train(train)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    a = twin(xt)
    dy = torch.tensor(np.random.default_rng(1).standard_normal(a.shape))
    a.backward(dy)
    want = dict(zip(net.params, (p.grad.numpy() for p in twin.parameters())))
    graph, (source, _, _) = to_torch(net, torch.float64), build(net)
    for ours in (graph, source):
        ours.train(train)
        xo = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        b = ours(xo)
        b.backward(dy)
        assert rel_err(b.detach().numpy(), a.detach().numpy()) < 1e-10
        assert rel_err(xo.grad.numpy(), xt.grad.numpy()) < 1e-10
    got = dict(source.named_parameters())
    for key, g in graph.grads().items():
        assert rel_err(g, want[key]) < 1e-10, key
        assert rel_err(got[key].grad.numpy(), want[key]) < 1e-10, key


def test_lenet5_against_a_hand_written_twin():
    net = cnndsl.load("lenet5").init(seed=3)
    twin = lenet5_twin()
    params = list(twin.parameters())
    copy(params, net, list(net.params))
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32))
    compare(net, twin, x, train=False)


@pytest.mark.parametrize("train", [False, True])
def test_a_resnet_stage_against_torchvisions_block_written_out(train):
    text = """network Stage
input 8x12x12
block basic(ch, stride=1) {
  residual {
    conv ch 3x3 stride=stride pad=1 bias=false; bn; relu
    conv ch 3x3 pad=1 bias=false; bn
  }
  relu
}
residual {
  conv 16 3x3 stride=2 pad=1 bias=false; bn; relu
  conv 16 3x3 pad=1 bias=false; bn
} shortcut {
  conv 16 1x1 stride=2 bias=false; bn
}
relu
basic(16)
"""
    net = cnndsl.parse(text).init(seed=5)
    rng = np.random.default_rng(6)
    for k, v in net.buffers.items():
        v[...] = rng.uniform(0.5, 1.5, v.shape) if k.endswith("var") else rng.standard_normal(v.shape) * 0.1
    twin = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16, 1))
    keys = [k for k in net.state_dict() if not k.endswith(("running_mean", "running_var"))]
    order = ["conv1.", "bn1.", "conv2.", "bn2.", "shortcut.conv1.", "shortcut.bn1."]
    first = sorted([k for k in keys if "basic" not in k], key=lambda k: next(i for i, o in enumerate(order)
                                                                             if k.startswith(o)))
    copy(twin.parameters(), net, first + [k for k in keys if "basic" in k])
    buffers = [k for k in net.state_dict() if k.endswith(("running_mean", "running_var"))]
    twin_buffers = [b for name, b in twin.named_buffers() if not name.endswith("num_batches_tracked")]
    first_b = sorted([k for k in buffers if "basic" not in k], key=lambda k: next(i for i, o in enumerate(order)
                                                                                  if k.startswith(o)))
    copy(twin_buffers, net, first_b + [k for k in buffers if "basic" in k])
    compare(net, twin, rng.standard_normal((2, 8, 12, 12)), train)


def shipped_at(name: str, shape: str) -> cnndsl.Network:
    """A shipped architecture at another input size (its `expect` of the totals dropped)."""
    text = resolve(name).read_text()
    text = re.sub(r"^input .*$", f"input {shape}", text, count=1, flags=re.M)
    return cnndsl.parse("\n".join(line for line in text.splitlines() if not line.startswith("expect")), f"{name}.cnn")


def alexnet_twin(features: int = 9216) -> nn.Module:
    """torchvision's AlexNet (features, classifier), with the softmax cnndsl's file ends with."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(features, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096),
        nn.ReLU(), nn.Linear(4096, 1000), nn.Softmax(dim=1))


def copy_all(twin: nn.Module, net) -> None:
    """Parameters, then running statistics, in order: the twins are written in the .cnn files' order."""
    copy(twin.parameters(), net, list(net.params))
    copy([b for name, b in twin.named_buffers() if not name.endswith("num_batches_tracked")], net, list(net.buffers))


def test_alexnet_against_torchvisions_alexnet_written_out():
    net = shipped_at("alexnet", "3x127x127").init(seed=7)  # 256×3×3 into the classifier: a third of the time
    twin = alexnet_twin(256 * 3 * 3)
    copy_all(twin, net)
    compare(net, twin, np.random.default_rng(2).standard_normal((1, 3, 127, 127)), train=False)


@pytest.mark.parametrize("train", [False, True])
def test_resnet18_against_torchvisions_resnet18_written_out(train):
    net = shipped_at("resnet18", "3x64x64").init(seed=8)
    rng = np.random.default_rng(9)
    for k, v in net.buffers.items():
        v[...] = rng.uniform(0.5, 1.5, v.shape) if k.endswith("var") else rng.standard_normal(v.shape) * 0.1
    twin = nn.Sequential(twins.resnet18(), nn.Softmax(dim=1))
    copy_all(twin, net)
    compare(net, twin, rng.standard_normal((2, 3, 64, 64)), train)
