"""Float64 central differences against the analytic gradients of the engine.

The objective is L = Σ_heads Σ y·r for fixed random r, so ∂L/∂y = r is back-propagated exactly as
`backward(r)` would; each sampled parameter entry θ is checked against (L(θ+ε) − L(θ−ε)) / 2ε.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .executor import Engine


@dataclass
class Check:
    key: str
    worst: float  # the largest relative error among the sampled entries
    checked: int


def gradcheck(net, batch: int = 2, mode: str = "train", samples: int = 6, seed: int = 0,
              eps: float = 1e-6) -> list[Check]:
    """Check every parameter tensor (and the input) of a network whose weights are set."""
    eng = Engine(net.graph, dtype=np.float64)
    eng.params = {n: {k: v.astype(np.float64) for k, v in p.items()} for n, p in net.engine.params.items()}
    eng.state = {n: {k: v.astype(np.float64) for k, v in p.items()} for n, p in net.engine.state.items()}
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + tuple(net.input_shape))
    eng.forward(x, mode=mode, grad=False, seed=seed, check_finite=False)
    weights = {e: rng.standard_normal(y.shape) for e, y in eng.outputs.items()}

    def objective(inp: np.ndarray) -> float:
        eng.forward(inp, mode=mode, grad=False, seed=seed, check_finite=False)
        return float(sum((eng.outputs[e] * r).sum() for e, r in weights.items()))

    eng.forward(x, mode=mode, grad=True, seed=seed, check_finite=False)
    dx = eng._backprop(dict(weights))
    analytic = {"input": dx} | eng.flat("grads")
    tensors = {"input": x} | eng.flat("params")
    results = []
    for key, value in tensors.items():
        grad = analytic[key]
        flat, gflat = value.reshape(-1), grad.reshape(-1)
        picks = set(rng.choice(flat.size, size=min(samples, flat.size), replace=False).tolist())
        picks.add(int(np.abs(gflat).argmax()))
        scale = max(np.abs(gflat).max(), 1e-8)
        worst = 0.0
        for i in sorted(picks):
            old = flat[i]
            flat[i] = old + eps
            up = objective(x)
            flat[i] = old - eps
            down = objective(x)
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            worst = max(worst, abs(numeric - gflat[i]) / max(abs(numeric), abs(gflat[i]), 1e-3 * scale))
        results.append(Check(key, worst, len(picks)))
    return results
