"""Refuse a batch whose activations would not fit in memory, before allocating anything."""

from __future__ import annotations

import math
import os

import networkx as nx

from ..errors import CnnError
from ..kernels.conv import WORKSPACE
from ..kernels.parallel import WORKERS
from ..summary import human


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo; elsewhere the physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def estimate(g: nx.DiGraph, nodes: list[str], batch: int, grad: bool, itemsize: int = 4) -> int:
    """An upper estimate of the bytes a forward pass (and its backward, with grad) needs: every
    activation, kept for backward or not, plus the convolution tiles' workspace and, for 3×3 layers,
    Winograd's transformed filters (16 per filter and channel) and each thread's weight-gradient sum."""
    acts = sum(math.prod(g.nodes[n]["shape"]) for n in nodes)
    factor = 2 if grad else 1  # backward holds caches (about one more copy) and gradients
    workspace = 3 * WORKSPACE * WORKERS  # convolution tiles: columns, their gradient, the output's
    filters = [g.nodes[n]["params"].get("weight", ()) for n in nodes if g.nodes[n]["op"] == "conv"]
    winograd = max((16 * w[0] * w[1] for w in filters if tuple(w[2:]) == (3, 3)), default=0)
    workspace += winograd * ((WORKERS + 1) if grad else 1)
    return (factor * acts * batch + workspace) * itemsize


def check(g: nx.DiGraph, nodes: list[str], batch: int, grad: bool, itemsize: int = 4) -> None:
    need, have = estimate(g, nodes, batch, grad, itemsize), available_bytes()
    if need > 0.9 * have:
        fixed = estimate(g, nodes, 0, grad, itemsize)
        per = estimate(g, nodes, 1, grad, itemsize) - fixed
        fits = max(int((0.9 * have - fixed) // max(per, 1)), 0)
        raise CnnError(f"a batch of {batch} needs about {human(need, 'B')} for its activations, but only "
                       f"{human(have, 'B')} of memory is available",
                       hint=f"use a batch of at most {fits}" if fits else "use a smaller input")
