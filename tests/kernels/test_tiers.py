"""The two tiers of kernels on the same cases: every fast path against the readable reference (each tier
against PyTorch and float64 finite differences is tests/kernels/test_kernels.py, parametrized by tier)."""

import numpy as np
import pytest

import cnndsl

from .test_kernels import CASES, one_layer
from ..torch_oracle import rel_err


def forward_backward(net, x, dy_seed, mode):
    for k, v in net.buffers.items():  # fresh running statistics each time: training updates them
        v[...] = 1.0 if k.endswith("var") else 0.0
    y = net.forward(x, mode=mode, seed=5)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(np.float32)
    dx = net.backward(dy)
    return y, dx, dict(net.grads), dy


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("stmt, shape", CASES)
def test_every_fast_path_agrees_with_the_reference(stmt, shape, mode):
    net = one_layer(stmt, shape).init(seed=1)
    x = np.random.default_rng(2).standard_normal((3,) + net.input_shape).astype(np.float32)
    y_fast, dx_fast, g_fast, _ = forward_backward(net, x, 3, mode)
    net.kernels = "reference"
    y_ref, dx_ref, g_ref, _ = forward_backward(net, x, 3, mode)
    assert y_ref.dtype == np.float32 and rel_err(y_fast, y_ref) < 1e-5 and rel_err(dx_fast, dx_ref) < 1e-4
    for key in g_ref:
        assert rel_err(g_fast[key], g_ref[key]) < 1e-4, key


def test_a_whole_network_runs_on_the_reference_kernels_from_the_command_line(tmp_path):
    import subprocess
    import sys
    out = {}
    for tier in ("fast", "reference"):
        run_ = subprocess.run([sys.executable, "-m", "cnndsl", "run", "lenet5", "--batch", "2", "--kernels", tier,
                               "--output", tmp_path / f"{tier}.npy"], capture_output=True, text=True)
        assert run_.returncode == 0, run_.stderr
        out[tier] = np.load(tmp_path / f"{tier}.npy")
    assert rel_err(out["fast"], out["reference"]) < 1e-5
