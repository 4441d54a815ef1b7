"""Compile every kernel ahead of use, over the cores: `cnndsl warm`.

numba compiles one function at a time, in the process that first calls it, and keeps the machine code in
its cache for every later run. A first run therefore waits for each kind of layer it meets. `warm` runs
a set of small networks — together they reach every kernel and every convolution path, in training and
in inference, forward and backward — in one process per core, so that the compiling is spread over the
cores; afterwards no run compiles. Processes share numba's cache safely (kernels/cache.py).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing import get_context

HEAD = "network Warm\ninput {shape}\n"

# (name, input shape, layers). Each reaches a group of kernels: a convolution path (kernels/schedule.py
# chooses it from the shapes below), pooling, normalization, the merges, the loss. The heaviest first, so
# that the processes finish together: measured on 2 cores of an Intel Xeon, 5.9, 4.7, 3.8, 3.1, 3.0, 2.4,
# 2.0 and 0 s of compiling (the first units also compile what all share: dense layers, the loss); with the
# strided im2col unit second to last, one process idled for 3 s (docs/performance.md, entry 65).
UNITS: list[tuple[str, str, str]] = [
    ("max pooling", "8x40x40",
     "maxpool 3x3 stride=2 ceil=true\nmaxpool 3x3 stride=1 pad=1\nmaxpool 2x2\nmaxpool 4x4 stride=1 pad=1\nflatten\n"
     "dense 2"),
    ("pointwise and depthwise", "16x20x20",
     "conv 32 1x1; bn; relu6\nconv 32 3x3 pad=1 groups=32; bn; relu\nconv 32 3x3 stride=2 pad=1 groups=32\n"
     "conv 16 1x1 stride=2; leakyrelu\nflatten\ndense 5"),
    ("Winograd F(2×2, 3×3)", "16x24x24",
     "conv 32 3x3 pad=1; bn; relu\nconv 32 3x3 pad=1 groups=2; bn; relu6\ngap\nflatten\ndense 4"),
    ("direct convolution", "3x24x24",
     "conv 8 3x3 pad=1; tanh\nconv 8 3x3\nconv 6 5x5 pad=2 groups=2; relu\navgpool 2x2\nflatten\ndense 10"),
    ("im2col, strided", "3x40x40",
     "conv 36 3x3 stride=2 pad=1; relu\nconv 40 7x7 stride=2 pad=3\nconv 36 5x5 pad=2\nconv 36 3x3\n"
     "conv 40 3x3 stride=1x2 pad=1 dilation=2\ngmp\nflatten\ndense 3"),
    ("average pooling and normalization", "8x21x21",
     "lrn size=3\navgpool 3x3 stride=1 pad=1; sigmoid\navgpool 3x3 stride=3; bn; relu\nflatten\nbn\ndropout 0.3\n"
     "dense 6\nsoftmax"),
    ("Winograd F(4×4, 3×3)", "16x100x100", "conv 16 3x3 pad=1; relu\nmaxpool 4x4 stride=4\nflatten\ndense 2"),
    ("merges and an aux head", "8x12x12",
     "a: conv 8 3x3 pad=1; relu\nconcat { branch { conv 4 1x1; relu } branch {} }\n"
     "residual { conv 12 3x3 pad=1; bn; relu; conv 12 3x3 pad=1; bn } shortcut { conv 12 1x1; bn }\nrelu\n"
     "s: gap\nmul @s\nadd { branch { identity } branch { dropout 0.1 } }\n"
     "aux { gap; flatten; dense 3; softmax }\nflatten\ndense 3\nsoftmax"),
]


@dataclass
class Report:
    """What one warm-up did: units run, kernels numba compiled, and the time each took."""
    units: int
    kernels: int
    compile_s: float  # of compiling, summed over the processes
    wall_s: float
    jobs: int


def unit_texts() -> list[tuple[str, str]]:
    return [(name, HEAD.format(shape=shape) + layers + "\n") for name, shape, layers in UNITS]


def run_unit(name: str, text: str) -> tuple[str, int, float]:
    """Run one unit as training and as inference; → (name, kernels compiled, seconds compiling)."""
    import numpy as np
    from numba.core import event

    from .kernels.lazy import compile_counter
    from .network import parse

    count = compile_counter()
    event.register("numba:compile", count)
    try:
        net = parse(text, f"<warm: {name}>").init(0)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2,) + net.input_shape).astype(np.float32)
        labels = rng.integers(0, net.output_shape[0], 2)
        net.loss(x, labels, seed=0)       # training: batch statistics, dropout, the aux head
        net.backward()
        net.forward(x, grad=False)        # inference: buffers reused, batch norm fused with its ReLU
        y = net.forward(x)                # eval forward kept for backward, then backward through it
        net.backward(np.ones_like(y))
    finally:
        event.unregister("numba:compile", count)
    return name, count.kernels, count.seconds


def _one_thread() -> None:
    """In each process, before NumPy loads: the processes are the parallelism, one thread each."""
    os.environ["CNNDSL_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"


def warm(jobs: int | None = None, progress=None) -> Report:
    """Run every unit over `jobs` processes (default: every core, at most the units). `progress(name,
    kernels, seconds)` is called as each unit ends."""
    units = unit_texts()
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(units)))
    start = time.perf_counter()
    kernels, seconds = 0, 0.0
    with ExitStack() as stack:
        if jobs == 1:
            results = (run_unit(name, text) for name, text in units)
        else:
            pool = stack.enter_context(ProcessPoolExecutor(jobs, mp_context=get_context("spawn"),
                                                           initializer=_one_thread))
            results = (f.result() for f in as_completed([pool.submit(run_unit, *unit) for unit in units]))
        for name, k, s in results:
            kernels, seconds = kernels + k, seconds + s
            if progress is not None:
                progress(name, k, s)
    return Report(len(units), kernels, seconds, time.perf_counter() - start, jobs)
