"""Optimizers with PyTorch's update rules, and the step learning-rate schedule.

    SGD:  d = g + wd·θ;  v = m·v + d;  θ −= lr·v          (torch.optim.SGD, dampening 0)
    Adam: d = g + wd·θ;  m = β1·m + (1−β1)·d;  v = β2·v + (1−β2)·d²
          θ −= lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)  (torch.optim.Adam)
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    name = ""
    stateful = True  # keeps per-parameter state a resumed run must restore
    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr, self.weight_decay = lr, weight_decay
        self.slots: dict[str, dict[str, np.ndarray]] = {}  # per-parameter state, by slot name
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        with np.errstate(all="ignore"):  # a diverging run is caught by the next forward, naming the layer
            self._step(params, grads)

    def _step(self, params, grads) -> None:
        for key, p in params.items():
            g = grads[key]
            if self.weight_decay:
                g = g + np.float32(self.weight_decay) * p
            self.update(key, p, g)

    def slot(self, name: str, key: str, like: np.ndarray) -> np.ndarray:
        table = self.slots.setdefault(name, {})
        if key not in table:
            table[key] = np.zeros_like(like)
        return table[key]

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Flat arrays for a checkpoint: `velocity/conv1.weight`, …"""
        return {f"{name}/{key}": arr for name, table in self.slots.items() for key, arr in table.items()}

    def load_state(self, arrays: dict[str, np.ndarray], t: int) -> None:
        self.t = t
        self.slots = {}
        for flat, arr in arrays.items():
            name, key = flat.split("/", 1)
            self.slots.setdefault(name, {})[key] = np.ascontiguousarray(arr, dtype=np.float32)


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum = momentum
        self.stateful = momentum != 0

    def update(self, key, p, g):
        if self.momentum:
            v = self.slot("velocity", key, p)
            v *= np.float32(self.momentum)
            v += g
            g = v
        p -= np.float32(self.lr) * g


class Adam(Optimizer):
    name = "adam"

    def __init__(self, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(lr, weight_decay)
        self.betas, self.eps = betas, eps

    def update(self, key, p, g):
        b1, b2 = self.betas
        m, v = self.slot("m", key, p), self.slot("v", key, p)
        m *= np.float32(b1)
        m += np.float32(1 - b1) * g
        v *= np.float32(b2)
        v += np.float32(1 - b2) * g * g
        m_hat = m / np.float32(1 - b1**self.t)
        v_hat = v / np.float32(1 - b2**self.t)
        p -= np.float32(self.lr) * m_hat / (np.sqrt(v_hat) + np.float32(self.eps))


def make_optimizer(name: str, lr: float, momentum: float, weight_decay: float) -> Optimizer:
    if name == "sgd":
        return SGD(lr, momentum, weight_decay)
    return Adam(lr, weight_decay)


def step_lr(base: float, epoch: int, step: int | None, gamma: float = 0.1) -> float:
    """The learning rate of a 0-based epoch: base · gamma^(epoch // step) (no schedule without a step)."""
    return base if not step else base * gamma ** (epoch // step)
