"""`cnndsl run`: one network, one batch, forward (and backward) timed layer by layer."""

from __future__ import annotations

import resource
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

import numpy as np

from ..files import read_npy


@dataclass
class RunResult:
    batch: int
    mode: str
    forward_s: float
    backward_s: float | None
    layers: list[dict] = field(default_factory=list)
    loss: float | None = None
    peak_bytes: int = 0
    note: str | None = None  # what the run chose for the user (an output gradient), to print

    def to_dict(self) -> dict:
        step = self.forward_s + (self.backward_s or 0.0)
        return {"forward_s": self.forward_s, "backward_s": self.backward_s, "step_s": step,
                "peak_bytes": self.peak_bytes, "batch": self.batch, "mode": self.mode, "loss": self.loss,
                "layers": self.layers}


def load_array(path: str | Path, what: str) -> np.ndarray:
    return read_npy(path, what, kinds="f")


def run(net, batch: int = 1, mode: str = "eval", seed: int = 0, x: np.ndarray | None = None,
        dy: np.ndarray | None = None, backward: bool = False, repeat: int = 1, warmup: bool = True,
        input_grad: bool = False, after_first=None) -> RunResult:
    """Medians over `repeat` runs (after one untimed warm-up that compiles the kernels). The input's
    gradient is computed only with input_grad (as PyTorch, where the input needs no gradient).
    after_first() is called when the first pass is over."""
    rng = np.random.default_rng(seed)
    if x is None:
        x = rng.standard_normal((batch,) + tuple(net.input_shape)).astype(np.float32)
    batch = x.shape[0] if x.ndim else batch
    backward = backward or dy is not None
    labels, note = None, None
    if backward and dy is None:
        if len(net.output_shape) == 1:
            labels = rng.integers(0, net.output_shape[0], batch)
        else:  # a feature map: no loss to take; back-propagate a seeded random gradient instead
            dy = rng.standard_normal((batch,) + tuple(net.output_shape)).astype(np.float32)
            note = (f"the output is a {'×'.join(map(str, net.output_shape))} feature map: back-propagated a "
                    f"random output gradient (standard normal, seed {seed}); give --grad-output dy.npy for your own")
    eng = net.engine
    fwd, bwd, per_f, per_b = [], [], [], []
    loss = None
    for i in range(repeat + (1 if warmup else 0)):
        pf, pb = {}, {}
        t0 = perf_counter()
        if labels is not None:
            loss = eng.loss(x, labels, seed=seed, mode=mode, profile=pf)
        else:
            eng.forward(x, mode=mode, grad=backward, seed=seed, profile=pf)
        t1 = perf_counter()
        if backward:
            eng.backward(dy, profile=pb, input_grad=input_grad)
        t2 = perf_counter()
        if i == 0 and after_first is not None:
            after_first()
        if warmup and i == 0:
            continue
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        per_f.append(pf)
        per_b.append(pb)
    layers = [{"name": n, "op": net.graph.nodes[n]["node"].op,
               "forward_s": statistics.median(p.get(n, 0.0) for p in per_f),
               "backward_s": statistics.median(p.get(n, 0.0) for p in per_b) if backward else None}
              for n in per_f[0]]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return RunResult(batch, mode, statistics.median(fwd), statistics.median(bwd) if backward else None, layers,
                     loss, peak, note)
