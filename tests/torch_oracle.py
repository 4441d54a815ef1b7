"""The PyTorch oracle: the network exported with cnndsl.export.torch, in float64, holding the same
weights and running statistics. Tests compare forward outputs and every gradient against it."""

from __future__ import annotations

import numpy as np
import torch

from cnndsl.export.torch import to_torch


def run(net, x: np.ndarray, dy: np.ndarray | None = None, mode: str = "eval", dtype=torch.float64):
    """→ (output, input gradient, {"node.weight": gradient, ...}, {"bn1.running_mean": updated, ...})."""
    module = to_torch(net, dtype).train(mode == "train")
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    y = module(xt)
    if dy is None:
        return y.detach().numpy(), None, None, module.buffers_numpy()
    y.backward(torch.tensor(dy, dtype=dtype))
    return y.detach().numpy(), xt.grad.numpy(), module.grads(), module.buffers_numpy()


def rel_err(a: np.ndarray, b: np.ndarray, floor: float = 1e-3) -> float:
    """max |a − b| relative to max |b|; below `floor` the error is absolute (a gradient that is exactly
    zero in float64, like a bias before batch norm, is float32 rounding noise in cnndsl)."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), floor))
