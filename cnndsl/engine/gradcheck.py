"""Float64 central differences against the analytic gradients of the engine.

The objective is L = Σ_heads Σ y·r for fixed random r, so ∂L/∂y = r is back-propagated exactly as
`backward(r)` would; each sampled parameter entry θ is checked against (L(θ+ε) − L(θ−ε)) / 2ε. Where
the differences at ε and ε/4 disagree, a ReLU or a max switches within ε of θ: no derivative exists
there to check, and the entry is counted as a kink instead.
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
    kinks: int = 0  # entries skipped: the objective is not smooth there (a ReLU or max switching)


def gradcheck(net, batch: int = 2, mode: str = "train", samples: int = 6, seed: int = 0,
              eps: float = 1e-6, kernels: str | None = None) -> list[Check]:
    """Check every parameter tensor (and the input) of a network whose weights are set, on its kernels
    ("fast" or "reference"; by default the network's)."""
    eng = Engine(net.graph, dtype=np.float64, kernels=kernels or net.kernels)
    eng.load_state_dict(net.state_dict())  # in float64
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + tuple(net.input_shape))
    eng.forward(x, mode=mode, grad=False, seed=seed, check_finite=False)
    weights = {e: rng.standard_normal(y.shape) for e, y in eng.outputs.items()}

    def objective(inp: np.ndarray) -> float:
        eng.forward(inp, mode=mode, grad=False, seed=seed, check_finite=False)
        return float(sum((eng.outputs[e] * r).sum() for e, r in weights.items()))

    eng.forward(x, mode=mode, grad=True, seed=seed, check_finite=False)
    dx = eng.backward_from(dict(weights))
    analytic = {"input": dx} | eng.flat("grads")
    tensors = {k: v for k, v in ({"input": x} | eng.flat("params")).items() if k in analytic}
    # Below this, a difference is rounding noise: a gradient that is exactly zero (a bias before batch
    # norm) differs from its finite difference by ~1e-10.
    floor = 1e-5 * max(float(np.abs(g).max()) for g in analytic.values())

    def numeric(flat: np.ndarray, i: int, h: float) -> float:
        old = flat[i]
        flat[i] = old + h
        up = objective(x)
        flat[i] = old - h
        down = objective(x)
        flat[i] = old
        return (up - down) / (2 * h)

    def rel(a: float, b: float) -> float:
        return abs(a - b) / max(abs(a), abs(b), floor, 1e-300)

    results = []
    for key, value in tensors.items():
        flat, gflat = value.reshape(-1), analytic[key].reshape(-1)
        picks = set(rng.choice(flat.size, size=min(samples, flat.size), replace=False).tolist())
        picks.add(int(np.abs(gflat).argmax()))
        worst, kinks = 0.0, 0
        for i in sorted(picks):
            n1, n2 = numeric(flat, i, eps), numeric(flat, i, eps / 4)
            if rel(n1, n2) > 1e-5:  # the two steps disagree: a kink lies within eps of this point
                kinks += 1
                continue
            worst = max(worst, rel(n2, float(gflat[i])))
        results.append(Check(key, worst, len(picks) - kinks, kinks))
    return results
