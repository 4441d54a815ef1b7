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
from torch import nn

from ..ops import OPS


def op_forward(op: str, a: dict, xs: list, p: dict, training: bool):
    """One cnndsl op in torch terms: each op's own mapping (Op.torch_forward, in cnndsl/ops/)."""
    return OPS[op].torch_forward(a, xs, p, training)


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
            data = g.nodes[node]["node"]
            if node == "input" or (data.train_only and not self.training):
                continue
            p = {k.rsplit(".", 1)[1]: self._tensor(k) for k in self._by_node.get(node, ())}
            acts[node] = op_forward(data.op, data.attrs, [acts[i] for i in data.inputs], p, self.training)
        self.aux_outputs = {h["node"]: acts[h["node"]] for h in g.graph["aux_heads"] if h["node"] in acts}
        return acts[g.graph["output"]]

    def grads(self) -> dict[str, np.ndarray]:
        """Parameter gradients under cnndsl's key names (zeros where none reached)."""
        return {k.replace("__", "."): (v.grad.detach().numpy() if v.grad is not None else np.zeros(tuple(v.shape)))
                for k, v in self.weights.items()}

    def weights_numpy(self) -> dict[str, np.ndarray]:
        """Every weight and running statistic under cnndsl's keys (what `net.save_weights` writes), so
        that a module trained in PyTorch goes back to cnndsl: np.savez(path, **module.weights_numpy())."""
        out = {k.replace("__", "."): v.detach().numpy().copy() for k, v in self.weights.items()}
        return out | self.buffers_numpy()

    def buffers_numpy(self) -> dict[str, np.ndarray]:
        return {k.replace("__", "."): v.detach().numpy() for k, v in self.named_buffers()}


def to_torch(net, dtype=torch.float32) -> GraphModule:
    return GraphModule(net, dtype)
