"""Weights as .npz, keyed by node name: `conv1.weight`, `conv1.bias`, `bn1.running_mean`, … in PyTorch's
layouts (conv OIHW, dense [out, in]), in the order the layers appear in the expanded source."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CnnError

if TYPE_CHECKING:
    from .executor import Engine


def expected(engine: "Engine") -> dict[str, tuple]:
    out = {}
    for node in engine.g:
        data = engine.g.nodes[node]
        for k, shape in list(data["params"].items()) + list(data["state"].items()):
            out[f"{node}.{k}"] = tuple(shape)
    return out


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Atomically: a temporary file in the same folder, then a rename — a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(engine: "Engine", path: str | Path) -> Path:
    arrays = engine.flat("params") | engine.flat("state")
    return write_npz(path, {k: arrays[k] for k in expected(engine)})


def load(engine: "Engine", path: str | Path) -> None:
    want = expected(engine)
    try:
        with np.load(path, allow_pickle=False) as f:
            got = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise CnnError(f"no weights file {path}") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise CnnError(f"{path} is not a readable .npz weights file ({e})") from None
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
    engine.params, engine.state = {}, {}
    for key, shape in want.items():
        node, name = key.rsplit(".", 1)
        arr = np.ascontiguousarray(got[key], dtype=engine.dtype)
        if not np.isfinite(arr).all():
            raise CnnError(f"{path}: '{key}' holds NaN or Inf")
        target = engine.state if name.startswith("running_") else engine.params
        target.setdefault(node, {})[name] = arr
