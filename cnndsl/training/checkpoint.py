"""Training checkpoints: weights, running statistics, optimizer state, the epoch reached and the metrics
so far — one .npz, written atomically (a temporary file, then a rename), read with allow_pickle=False."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from ..engine.weights import write_npz
from ..errors import CnnError


def fingerprint(net) -> str:
    """Names and shapes of every weight: a checkpoint fits only the network it came from."""
    items = sorted((k, v.shape) for k, v in (net.params | net.buffers).items())
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


def save(path: str | Path, net, optimizer, meta: dict) -> Path:
    arrays = {f"weights/{k}": v for k, v in net.params.items()}
    arrays |= {f"buffers/{k}": v for k, v in net.buffers.items()}
    arrays |= {f"optimizer/{k}": v for k, v in optimizer.state().items()}
    meta = meta | {"network": net.name, "fingerprint": fingerprint(net), "optimizer": optimizer.name,
                   "step": optimizer.t}
    arrays["meta"] = np.array(json.dumps(meta))
    return write_npz(path, arrays)


def load(path: str | Path, net, optimizer) -> dict:
    """Restore into net and optimizer; returns the saved meta (epoch, metrics, …)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise CnnError(f"no checkpoint {path}", hint="drop --resume to start afresh") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise CnnError(f"{path} is not a readable checkpoint ({e})") from None
    if "meta" not in arrays:
        raise CnnError(f"{path} is not a cnndsl training checkpoint (no `meta`)")
    meta = json.loads(str(arrays["meta"]))
    if meta.get("fingerprint") != fingerprint(net):
        raise CnnError(f"{path} was saved from network '{meta.get('network')}' with other layers than "
                       f"'{net.name}'", hint="resume with the same .cnn file, or train afresh without --resume")
    if meta.get("optimizer") != optimizer.name:
        raise CnnError(f"{path} was saved with --optimizer {meta.get('optimizer')}, not {optimizer.name}")
    eng = net.engine
    for k, v in arrays.items():
        kind, _, key = k.partition("/")
        if kind in ("weights", "buffers"):
            node, name = key.rsplit(".", 1)
            (eng.params if kind == "weights" else eng.state)[node][name][...] = v
    optimizer.load_state({k.partition("/")[2]: v for k, v in arrays.items() if k.startswith("optimizer/")},
                         meta["step"])
    return meta
