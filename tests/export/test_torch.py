"""The exporter (cnndsl.export.torch, the other tests' oracle) against independent PyTorch twins: nn.Modules
written by hand, as a PyTorch user would, holding cnndsl's weights. So the oracle is not its own judge."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import cnndsl  # noqa: E402
from cnndsl.export.torch import to_torch  # noqa: E402

from ..torch_oracle import rel_err  # noqa: E402


def lenet5_twin() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        nn.Softmax(dim=1))


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block, written out."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x):
        skip = x if self.down is None else self.down(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + skip)


def copy(module_params, net, names) -> None:
    """Load cnndsl's weights into a twin, parameter by parameter, in the order given."""
    with torch.no_grad():
        for tensor, key in zip(module_params, names):
            tensor.copy_(torch.tensor(net.state_dict()[key]))


def compare(net, twin, x, train: bool):
    twin = twin.double().train(train)
    ours = to_torch(net, torch.float64).train(train)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    xo = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    a, b = twin(xt), ours(xo)
    dy = torch.tensor(np.random.default_rng(1).standard_normal(a.shape))
    a.backward(dy)
    b.backward(dy)
    assert rel_err(b.detach().numpy(), a.detach().numpy()) < 1e-10
    assert rel_err(xo.grad.numpy(), xt.grad.numpy()) < 1e-10
    return ours


def test_lenet5_against_a_hand_written_twin():
    net = cnndsl.load("lenet5").init(seed=3)
    twin = lenet5_twin()
    params = list(twin.parameters())
    copy(params, net, list(net.params))
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32))
    ours = compare(net, twin, x, train=False)
    grads = ours.grads()
    for p, key in zip(params, net.params):
        assert rel_err(grads[key], p.grad.numpy()) < 1e-10, key


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
