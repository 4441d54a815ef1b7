"""The PyTorch oracle: any cnndsl graph run op by op with torch.nn.functional, holding the same weights.

Used by the tests to compare forward outputs and every gradient with cnndsl's engine.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def op_forward(op: str, a: dict, xs: list, p: dict, training: bool):
    x = xs[0]
    if op == "conv":
        return F.conv2d(x, p["weight"], p.get("bias"), a["stride"], a["pad"], a["dilation"], a["groups"])
    if op == "dense":
        return F.linear(x, p["weight"], p.get("bias"))
    if op == "maxpool":
        return F.max_pool2d(x, a["kernel"], a["stride"], a["pad"], ceil_mode=a["ceil"])
    if op == "avgpool":
        return F.avg_pool2d(x, a["kernel"], a["stride"], a["pad"], ceil_mode=a["ceil"], count_include_pad=True)
    if op == "globalavgpool":
        return x.mean(dim=(2, 3), keepdim=True)
    if op == "flatten":
        return x.flatten(1)
    if op == "relu":
        return F.relu(x)
    if op == "relu6":
        return F.relu6(x)
    if op == "leakyrelu":
        return F.leaky_relu(x, a["slope"])
    if op == "tanh":
        return torch.tanh(x)
    if op == "sigmoid":
        return torch.sigmoid(x)
    if op in ("identity", "dropout"):
        return x  # dropout: compared in eval mode only
    if op == "softmax":
        return F.softmax(x, dim=1)
    if op == "lrn":  # the paper's alpha is PyTorch's alpha / size
        return F.local_response_norm(x, a["size"], alpha=a["alpha"] * a["size"], beta=a["beta"], k=a["k"])
    if op == "batchnorm":
        rm, rv = p["running_mean"], p["running_var"]
        return F.batch_norm(x, rm, rv, p["weight"], p["bias"], training, a["momentum"], a["eps"])
    if op == "concat":
        return torch.cat(xs, dim=1)
    if op == "add":
        out = xs[0]
        for other in xs[1:]:
            out = out + other
        return out
    raise NotImplementedError(op)


def run(net, x: np.ndarray, dy: np.ndarray | None = None, mode: str = "eval", dtype=torch.float64):
    """→ (output, input gradient, {"node.weight": gradient, ...}, {"bn1.running_mean": updated, ...})
    computed by PyTorch, starting from the network's weights and buffers."""
    g = net.graph
    training = mode == "train"
    params = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in net.params.items()}
    buffers = {k: torch.tensor(v, dtype=dtype) for k, v in net.buffers.items()}
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    acts = {"input": xt}
    for node in g:
        if node == "input" or (g.nodes[node]["train_only"] and not training):
            continue
        data = g.nodes[node]
        p = {k.rsplit(".", 1)[1]: v for k, v in (params | buffers).items() if k.rsplit(".", 1)[0] == node}
        acts[node] = op_forward(data["op"], data["attrs"], [acts[i] for i in data["inputs"]], p, training)
    y = acts[g.graph["output"]]
    after = {k: v.numpy() for k, v in buffers.items()}
    if dy is None:
        return y.detach().numpy(), None, None, after
    y.backward(torch.tensor(dy, dtype=dtype))
    grads = {k: (v.grad.numpy() if v.grad is not None else np.zeros(v.shape)) for k, v in params.items()}
    return y.detach().numpy(), xt.grad.numpy(), grads, after


def rel_err(a: np.ndarray, b: np.ndarray, floor: float = 1e-3) -> float:
    """max |a − b| relative to max |b|; below `floor` the error is absolute (a gradient that is exactly
    zero in float64, like a bias before batch norm, is float32 rounding noise in cnndsl)."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), floor))
