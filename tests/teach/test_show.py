"""`show`: the feature maps drawn are the layer outputs the engine computes (checked against a PyTorch
twin), and the picture is written for a trained LeNet-5."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import cnndsl
from cnndsl.teach.show import conv_layers

from ..conftest import net_of


def test_each_conv_shows_the_maps_after_its_activation():
    net = cnndsl.load("resnet18")
    pairs = dict(conv_layers(net))
    assert pairs["conv1"] == "relu1"  # conv; bn; relu: the ReLU's output
    assert pairs["layer1_0.conv2"] == "layer1_0.bn2"  # no activation before the add: batch norm's output
    lenet = dict(conv_layers(cnndsl.load("lenet5")))
    assert lenet == {"conv1": "tanh1", "conv2": "tanh2"}


def test_kept_activations_equal_pytorchs():
    net = net_of("conv 3 3x3 pad=1; relu\nmaxpool 2x2\nconv 4 3x3; tanh\nflatten\ndense 5", "2x8x8").init(1)
    x = np.random.default_rng(2).standard_normal((2, 2, 8, 8)).astype(np.float32)
    kept = net.activations(x, ["relu1", "tanh1"])
    p = {k: torch.tensor(v) for k, v in net.params.items()}
    h = torch.relu(torch.nn.functional.conv2d(torch.tensor(x), p["conv1.weight"], p["conv1.bias"], padding=1))
    np.testing.assert_allclose(kept["relu1"], h.numpy(), rtol=1e-5, atol=1e-6)
    t = torch.tanh(torch.nn.functional.conv2d(torch.nn.functional.max_pool2d(h, 2), p["conv2.weight"], p["conv2.bias"]))
    np.testing.assert_allclose(kept["tanh1"], t.numpy(), rtol=1e-5, atol=1e-6)
    assert net.engine.kept == {}  # nothing stays behind


@pytest.mark.slow  # trains LeNet-5 for two epochs first
def test_show_draws_a_trained_lenet(tmp_path):
    weights, out = tmp_path / "w.npz", tmp_path / "maps.png"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "train", "lenet5", "--epochs", "2", "--save-weights",
                          str(weights)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([sys.executable, "-m", "cnndsl", "show", "lenet5", "--weights", str(weights), "--image", "5",
                          "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "2 conv layers drawn" in run.stdout and out.read_bytes()[:4] == b"\x89PNG"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "show", "lenet5", "--image", "100000", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "the test set has" in run.stderr and "Traceback" not in run.stderr
