"""Training checkpoints: weights, running statistics, optimizer state, where training stands (the epoch,
the step within it, the epoch's random generator) and the metrics so far — one .npz, written
atomically (a temporary file, then a rename), read with allow_pickle=False.

A checkpoint saved in the middle of an epoch (Ctrl-C) resumes at the next step of that epoch with the
same batch order and the same random state: the final weights equal an uninterrupted run's, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import CnnError
from ..files import read_npz, write_npz


def fingerprint(net) -> str:
    """Names and shapes of every weight: a checkpoint fits only the network it came from."""
    items = sorted((k, v.shape) for k, v in (net.params | net.buffers).items())
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


def save(path: str | Path, net, optimizer, meta: dict) -> Path:
    """meta: `epoch` (epochs finished), `history`, and, in the middle of an epoch, `position`
    ({"step": steps done in epoch `epoch` + 1, "rng": its generator's state, "losses": [...]})."""
    arrays = {f"weights/{k}": v for k, v in net.params.items()}
    arrays |= {f"buffers/{k}": v for k, v in net.buffers.items()}
    arrays |= {f"optimizer/{k}": v for k, v in optimizer.state().items()}
    meta = meta | {"network": net.name, "fingerprint": fingerprint(net), "optimizer": optimizer.name,
                   "step": optimizer.t}
    arrays["meta"] = np.array(json.dumps(meta))
    return write_npz(path, arrays, "checkpoint")


def load(path: str | Path, net, optimizer) -> dict:
    """Restore into net and optimizer; returns the saved meta (epoch, history, position)."""
    if not Path(path).exists():
        raise CnnError(f"no checkpoint {path}", hint="drop --resume to start afresh")
    arrays = read_npz(path, "checkpoint", kinds="fiuU")
    meta = _meta(path, arrays)
    if meta.get("fingerprint") != fingerprint(net):
        raise CnnError(f"{path} was saved from network '{meta.get('network')}' with other layers than "
                       f"'{net.name}'", hint="resume with the same .cnn file, or train afresh without --resume")
    if meta.get("optimizer") != optimizer.name:
        raise CnnError(f"{path} was saved with --optimizer {meta.get('optimizer')}, not {optimizer.name}")
    expected = {f"weights/{k}": v for k, v in net.params.items()} | {f"buffers/{k}": v for k, v in net.buffers.items()}
    for key, target in expected.items():
        if key not in arrays:
            raise CnnError(f"checkpoint {path} lacks '{key}'")
        value = arrays[key]
        if value.shape != target.shape or value.dtype.kind != "f":
            raise CnnError(f"checkpoint {path}: '{key}' is {value.dtype} {value.shape}, the network has "
                           f"{target.dtype} {target.shape}")
    moments = {k.partition("/")[2]: v for k, v in arrays.items() if k.startswith("optimizer/")}
    if meta["step"] > 0 and optimizer.stateful and not moments:
        raise CnnError(f"checkpoint {path} has no {optimizer.name} state after {meta['step']} steps; resuming "
                       "would restart its moments from zero", hint="train afresh without --resume")
    params = net.params
    for key, value in moments.items():
        slot, _, name = key.partition("/")
        if name not in params or value.shape != params[name].shape or value.dtype.kind != "f":
            raise CnnError(f"checkpoint {path}: optimizer state '{key}' does not fit the network")
    net.load_state_dict({k.partition("/")[2]: v for k, v in arrays.items() if k.startswith(("weights/", "buffers/"))})
    optimizer.load_state(moments, meta["step"])
    return meta


def _meta(path, arrays: dict) -> dict:
    if "meta" not in arrays:
        raise CnnError(f"{path} is not a cnndsl training checkpoint (no `meta`)")
    raw = arrays["meta"]
    try:
        meta = json.loads(str(raw)) if raw.dtype.kind == "U" and raw.ndim == 0 else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise CnnError(f"checkpoint {path}: its `meta` is not the JSON object cnndsl writes")
    checks = {"epoch": int, "step": int, "history": list}
    for key, kind in checks.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise CnnError(f"checkpoint {path}: its `meta` lacks a valid `{key}`")
    if meta["epoch"] < 0 or meta["step"] < 0:
        raise CnnError(f"checkpoint {path}: its `meta` has a negative epoch or step")
    position = meta.get("position")
    if position is not None and not (isinstance(position, dict) and isinstance(position.get("step"), int)
                                     and isinstance(position.get("rng"), dict)
                                     and isinstance(position.get("losses"), list)):
        raise CnnError(f"checkpoint {path}: its `meta` has an unreadable position within the epoch")
    return meta
