"""Weights as .npz, keyed by node name: `conv1.weight`, `conv1.bias`, `bn1.running_mean`, … in PyTorch's
layouts (conv OIHW, dense [out, in]), in the order the layers appear in the expanded source. A training
checkpoint is accepted as a weights file too: its weights and running statistics are taken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnError
from ..files import read_npz, write_npz

Engine = Any  # an engine.executor.Engine: the executor imports this module, not the other way


def expected(engine: Engine) -> dict[str, tuple]:
    out = {}
    for node in engine.g:
        data = engine.g.nodes[node]["node"]
        for k, shape in list(data.params.items()) + list(data.state.items()):
            out[f"{node}.{k}"] = tuple(shape)
    return out


def save(engine: Engine, path: str | Path) -> Path:
    return write_npz(path, engine.state_dict(), "weights file")


def load(engine: Engine, path: str | Path) -> None:
    want = expected(engine)
    got = read_npz(path, "weights", kinds="fiuU")
    if "meta" in got and any(k.startswith("weights/") for k in got):  # a training checkpoint: its weights
        got = {k.partition("/")[2]: v for k, v in got.items() if k.startswith(("weights/", "buffers/"))}
    for key, value in got.items():
        if value.dtype.kind not in "fiu":
            raise CnnError(f"weights file {path}: '{key}' holds {value.dtype} values; expected numbers")
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    misshaped = [f"{k}: file {tuple(got[k].shape)}, network {want[k]}" for k in want
                 if k in got and tuple(got[k].shape) != want[k]]
    if missing or extra or misshaped:
        parts = []
        for title, items in (("missing", missing), ("unexpected", extra), ("mis-shaped", misshaped)):
            if items:
                shown = ", ".join(items[:8]) + (f", … ({len(items)} in all)" if len(items) > 8 else "")
                parts.append(f"{title}: {shown}")
        raise CnnError(f"{path} does not fit the network — " + "; ".join(parts),
                       hint="weights are keyed by layer name (see `cnndsl summary`); label layers to keep names stable")
    for key in want:
        if not np.isfinite(got[key]).all():
            raise CnnError(f"{path}: '{key}' holds NaN or Inf")
    engine.load_state_dict({k: got[k] for k in want})
