"""A cnndsl network as a PyTorch module holding the same weights (torch is an optional dependency).

    module = to_torch(net)            # float32, the network's current weights and running statistics
    y = module(torch.from_numpy(x))   # module.train() / module.eval() as usual
    module.grads()                    # {"conv1.weight": ndarray, ...} after y.backward(dy)

The module runs the graph op by op with torch.nn.functional; LRN's alpha is converted (cnndsl follows
the AlexNet paper, PyTorch divides alpha by size).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def op_forward(op: str, a: dict, xs: list, p: dict, training: bool):
    """One cnndsl op in torch.nn.functional terms."""
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
    if op == "dropout":
        return F.dropout(x, a["p"], training)
    if op == "lrn":
        return F.local_response_norm(x, a["size"], alpha=a["alpha"] * a["size"], beta=a["beta"], k=a["k"])
    if op == "batchnorm":
        return F.batch_norm(x, p["running_mean"], p["running_var"], p["weight"], p["bias"], training,
                            a["momentum"], a["eps"])
    if op == "concat":
        return torch.cat(xs, dim=1)
    if op == "add":
        out = xs[0]
        for other in xs[1:]:
            out = out + other
        return out
    if op == "leakyrelu":
        return F.leaky_relu(x, a["slope"])
    simple = {"relu": F.relu, "relu6": F.relu6, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
              "identity": lambda t: t, "softmax": lambda t: F.softmax(t, dim=1)}
    return simple[op](x)


def _slot(key: str) -> str:
    return key.replace(".", "__")


class GraphModule(nn.Module):
    """The graph run op by op; `aux_outputs` holds the aux heads' outputs after a training forward."""

    def __init__(self, net, dtype=torch.float32):
        super().__init__()
        self.graph = net.graph
        self.weights = nn.ParameterDict({_slot(k): nn.Parameter(torch.tensor(v, dtype=dtype))
                                         for k, v in net.params.items()})
        for k, v in net.buffers.items():
            self.register_buffer(_slot(k), torch.tensor(v, dtype=dtype))
        self._by_node: dict[str, list[str]] = {}
        for key in list(net.params) + list(net.buffers):
            self._by_node.setdefault(key.rsplit(".", 1)[0], []).append(key)
        self.aux_outputs: dict[str, torch.Tensor] = {}

    def _tensor(self, key: str) -> torch.Tensor:
        slot = _slot(key)
        return self.weights[slot] if slot in self.weights else getattr(self, slot)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.graph
        acts = {"input": x}
        for node in g:
            data = g.nodes[node]
            if node == "input" or (data["train_only"] and not self.training):
                continue
            p = {k.rsplit(".", 1)[1]: self._tensor(k) for k in self._by_node.get(node, ())}
            acts[node] = op_forward(data["op"], data["attrs"], [acts[i] for i in data["inputs"]], p, self.training)
        self.aux_outputs = {h["node"]: acts[h["node"]] for h in g.graph["aux_heads"] if h["node"] in acts}
        return acts[g.graph["output"]]

    def grads(self) -> dict[str, np.ndarray]:
        """Parameter gradients under cnndsl's key names (zeros where none reached)."""
        return {k.replace("__", "."): (v.grad.detach().numpy() if v.grad is not None else np.zeros(tuple(v.shape)))
                for k, v in self.weights.items()}

    def buffers_numpy(self) -> dict[str, np.ndarray]:
        return {k.replace("__", "."): v.detach().numpy() for k, v in self.named_buffers()}


def to_torch(net, dtype=torch.float32) -> GraphModule:
    return GraphModule(net, dtype)
