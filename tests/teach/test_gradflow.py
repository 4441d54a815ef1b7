"""`gradflow`: the norms are those of the true gradients (a hand-written PyTorch twin), the input
gradient is per image, and the plain-vs-residual picture is drawn."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import cnndsl
from cnndsl.teach.gradflow import gradflow, measure, weight_layers

from ..conftest import net_of

ROOT = Path(__file__).resolve().parents[2]


def test_norms_equal_a_pytorch_twins():
    net = net_of("conv 4 3x3 pad=1; relu\nconv 5 3x3 pad=1; relu\ngap\nflatten\ndense 10", "1x8x8").init(3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 6)
    loss, weight, activation = measure(net, x, y)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    h1 = torch.relu(torch.nn.functional.conv2d(xt, p["conv1.weight"], p["conv1.bias"], padding=1))
    h1.retain_grad()
    h2 = torch.relu(torch.nn.functional.conv2d(h1, p["conv2.weight"], p["conv2.bias"], padding=1))
    g = h2.mean((2, 3))
    g.retain_grad()
    out = torch.nn.functional.linear(g, p["dense1.weight"], p["dense1.bias"])
    ref = torch.nn.functional.cross_entropy(out, torch.tensor(y))
    ref.backward()
    assert abs(loss - ref.item()) < 1e-5
    expect_w = [p[f"{n}.weight"].grad.norm().item() for n in ("conv1", "conv2", "dense1")]
    per_image = lambda t: t.grad.reshape(len(t.grad), -1).pow(2).sum(1).mean().sqrt().item()  # noqa: E731
    expect_a = [per_image(xt), per_image(h1), per_image(g)]  # what conv1, conv2 and dense1 read (flatten of g)
    np.testing.assert_allclose(weight, expect_w, rtol=1e-4)
    np.testing.assert_allclose(activation, expect_a, rtol=1e-4)


def test_layers_are_the_main_paths_weight_layers_in_order():
    net = cnndsl.load("googlenet")
    layers = weight_layers(net)
    assert layers[0] == "conv1" and layers[-1] == "dense1" and not any(n.startswith("aux") for n in layers)
    assert len(layers) == sum(1 for n in net.layers if net.node(n).op in ("conv", "dense") and not net.node(n).aux)


def test_training_moves_the_norms_and_lowers_the_loss():
    (flow,) = gradflow([cnndsl.load(ROOT / "docs/lessons/nets/residual8.cnn")], steps=30, every=10)
    assert sorted(flow.weight) == [0, 10, 20, 30] and len(flow.loss) == 30
    assert np.mean(flow.loss[-5:]) < 0.6 * np.mean(flow.loss[:5])


@pytest.mark.slow  # the command end to end, in a subprocess
def test_the_cli_prints_json_and_draws(tmp_path):
    out = tmp_path / "flow.png"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "gradflow", str(ROOT / "docs/lessons/nets/plain8.cnn"),
                          str(ROOT / "docs/lessons/nets/residual8.cnn"), "--steps", "5", "--json", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert [len(n["layers"]) for n in data["networks"]] == [8, 8] and out.read_bytes()[:4] == b"\x89PNG"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "gradflow", "lenet5", "--steps", "0", "-o",
                          str(tmp_path / "x.json")], capture_output=True, text=True)
    assert run.returncode == 1 and "must end in" in run.stderr
