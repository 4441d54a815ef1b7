"""How each kernel runs: which convolution algorithm a layer's shapes take, how the work is cut into
tiles, and how it is spread over the cores. The one place where these decisions live; plain Python
(numba is not imported here), so the memory estimate (engine/memory.py) reads the same rules.

Convolution algorithms, each a module of kernels/conv/ (why the thresholds are where they are:
docs/performance.md):
  winograd   3×3 stride 1, wide layers, enough 2×2 tiles: F(2×2, 3×3), 4/9 of the multiplications
  winograd4  the same on maps at least MIN_WINOGRAD4_WIDTH wide: forward by F(4×4, 3×3), 1/4 of them
  pointwise  1×1, no padding, one group: one matrix product per image (strided: on the sampled input)
  direct     stride 1 and few filters (LeNet's 6 and 16): register-blocked taps on the padded-width grid
  im2col     everything else: columns tile by tile, one GEMM each

Threads: the batch is cut into one chunk per core, and each chunk runs serial numba kernels (compiled
nogil) and single-threaded BLAS calls in its own thread (the caller takes the first chunk, a pool of
WORKERS − 1 threads the others). Numba's parallel regions and OpenBLAS's threads both spin while idle,
and interleaved they slow each other 3–4× (docs/reference.md). Here only one pool runs at a time:
inside `run_batched` BLAS is held to one thread per chunk; outside it, BLAS keeps all its threads (one
large GEMM on small batches). `CNNDSL_THREADS=1` turns chunking off.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Callable, TypeVar

from ..threads import threads_from_env
from .lazy import lazy_module

np = lazy_module("numpy")  # plain Python: `cnndsl check` reads the rules without loading NumPy

T = TypeVar("T")
WORKERS: int | None = None  # threads: CNNDSL_THREADS or the cores (up to 8), read on first use


def workers() -> int:
    global WORKERS
    if WORKERS is None:
        WORKERS = threads_from_env()
    return WORKERS

# ---- algorithm choice ----------------------------------------------------------------------------
# Winograd for 3×3 stride-1 layers with at least this many input and output channels per group, 2×2-output
# tiles in the batch and output rows and columns: below them the transforms (of the data, and of the
# filters once per call) cost more than the multiplications they save — a 7×7 map's tiles compute 64
# outputs for 49, and its narrow GEMMs run slowly.
MIN_WINOGRAD_CHANNELS = 16
MIN_WINOGRAD_TILES = 128
MIN_WINOGRAD_SIDE = 8
# F(4×4, 3×3) forward (winograd4.py) on wide maps only: its transforms go one row of tiles at a time, and
# on rows of fewer than ~25 tiles they cost more than the multiplications they save (measured, 2 cores of
# a Xeon: outputs 112 and 224 wide 4–31 % faster than F(2×2, 3×3), 56 wide 10–20 % slower; entry 54).
MIN_WINOGRAD4_WIDTH = 100

# Stride-1 layers with few filters run on the padded-width grid (kernels/conv/direct.py), whose GEMMs
# would be memory-bound: LeNet-5's 6 and 16.
MAX_DIRECT_FILTERS = 32

# A dense layer's weight gradient dyᵀ·x for at most this many rows (the batch) is written as outer products
# (kernels/dense.py): BLAS runs a product with so short an inner dimension at a fraction of its rate.
# Measured on 2 cores of an AMD EPYC (entry 58), VGG-16's and AlexNet's layers: 3–5× faster at 1 row,
# 1.1–1.7× at 2 and 4, even or slower from 8.
MAX_OUTER_ROWS = 4


def conv_algorithm(w_shape, stride, pad, dilation, groups: int, n: int, out_hw) -> str:
    """"depthwise", "winograd", "winograd4", "pointwise", "direct" or "im2col", for a batch of n through a
    conv layer."""
    f, cg, kh, kw = w_shape
    if groups > 1 and cg == 1 and f == groups:  # one filter per channel (MobileNet): channels share the cores
        return "depthwise"
    stride, pad, dilation = tuple(stride), tuple(pad), tuple(dilation)
    tiles = n * ((out_hw[0] + 1) // 2) * ((out_hw[1] + 1) // 2)
    if ((kh, kw) == (3, 3) and stride == (1, 1) and dilation == (1, 1)
            and min(cg, f // groups) >= MIN_WINOGRAD_CHANNELS and tiles >= MIN_WINOGRAD_TILES
            and min(out_hw) >= MIN_WINOGRAD_SIDE):
        return "winograd4" if out_hw[1] >= MIN_WINOGRAD4_WIDTH else "winograd"
    if (kh, kw) == (1, 1) and pad == (0, 0) and groups == 1:
        return "pointwise"
    if stride == (1, 1) and f // groups <= MAX_DIRECT_FILTERS:
        return "direct"
    return "im2col"


# ---- workspace and tiles ---------------------------------------------------------------------------
WORKSPACE = 1 << 21       # floats of column buffer per thread: several whole images, or bands of a large one's rows
# Winograd's forward: the transformed input and the products of a group of tiles, 2 MB a thread, stay in
# cache between the input transform, the matrix products and the output transform (entry 62: +5–45 % on
# ResNet's and VGG's layers against 8 MB on an AMD EPYC with 1 MB of L2 a core; 1 MB lost on deep layers).
# Its backward keeps WORKSPACE: with fewer tiles a group, the weight gradient's products got 10–40 % slower.
WINOGRAD_FORWARD_WORKSPACE = 1 << 19
FLAT_WORKSPACE = 1 << 18  # the direct path is memory-bound: padded planes and columns that stay in L2


def tiles(n_img: int, oh: int, ow: int, k: int, workspace: int | None = None) -> list[tuple[int, int, int, int]]:
    """Work units (n0, n1, oy0, oy1) of an oh × ow grid of cells (output positions, or Winograd's 2×2
    tiles) that need k floats of workspace each, within `workspace` floats (default WORKSPACE): several
    whole images when they are small, bands of rows of one image when it is large."""
    budget = max((WORKSPACE if workspace is None else workspace) // k, ow)
    if oh * ow <= budget:
        per = max(1, budget // (oh * ow))
        return [(a, min(a + per, n_img), 0, oh) for a in range(0, n_img, per)]
    bands = -(-oh // max(1, budget // ow))
    rows = -(-oh // bands)  # bands of equal height: a thin last band makes narrow, slow GEMMs
    return [(a, a + 1, r, min(r + rows, oh)) for a in range(n_img) for r in range(0, oh, rows)]


# ---- threads -------------------------------------------------------------------------------------
# Below this many elements an element-wise, pooling or normalization kernel is not worth two threads: it
# takes ~8 elements a nanosecond on one core (memory-bound), and handing half to a worker costs a wake-up —
# `python benchmarks/bench_threads.py` measures both. On 2 cores of an AMD EPYC (KVM; entry 59) a round trip
# took 50 µs and sharing a batch norm lost up to 800 thousand elements (90 µs alone, 170–180 shared), was
# even at 1.6 million and won at 6.4 million (2.5–3.4 ms → 1.6–2.4). Once 65,536, which lost 4–10× at the
# batch-1 sizes. On a machine with faster wake-ups the bound forgoes at most half of ~130 µs a call.
MIN_ELEMENTS = 1 << 20
# A chunk of the batch is worth its own thread unless its GEMMs get very narrow. Once 1,024 (ResNet-18's
# 7×7 layers lost with chunks); since the in-place outputs and faster im2col, its 7×7 and stride-2 layers
# gain 15–75 % with them (docs/performance.md).
MIN_COLUMNS_PER_CHUNK = 64
# Nor is a convolution of fewer multiply-adds than this in all worth two threads, however many columns it
# has: 8 million take 0.1–0.4 ms on one core, and on 2 cores of an AMD EPYC (KVM; entry 76) every layer
# below it ran slower shared (LeNet-5's at batch 8 1.5–2.6×) — a worker's wake-up, then GIL hand-overs.
# (Depthwise layers keep over_channels' bound: their time per multiply-add moves 3× with the map's width,
# so no such bound fit both MobileNetV2's batch 1 and batch 8.) Where a wake-up is quicker, the bound
# forgoes at most half of a few hundred microseconds a layer.
MIN_MACS = 1 << 23


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max(1, workers() - 1), thread_name_prefix="cnndsl")


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges that cover 0…n in `parts` nearly equal pieces (none empty)."""
    parts = max(1, min(parts, n))
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def run_batched(fn: Callable[[int, int], T], n: int, worth_it: bool = True) -> list[T]:
    """fn(lo, hi) over the chunks of 0…n, in parallel when that is worth it; results in order.

    The chunks are claimed, not assigned: the caller runs the first and then any chunk no worker has
    started, so a worker that is slow to wake (waking a sleeping thread took 70–250 µs on a KVM guest,
    against 20–30 µs of work for a batch norm of 64 × 56 × 56) costs nothing but the work it did not
    share; the caller waits only for chunks a worker began. The chunks are the same whoever runs them,
    so the results are too."""
    if workers() == 1 or n < 2 or not worth_it:
        return [fn(0, n)]
    from .blas import blas_threads
    parts = chunks(n, WORKERS)
    results: list = [None] * len(parts)
    failed: list[BaseException] = []
    done = [threading.Lock() for _ in parts]  # held until the chunk's work is over, whoever ran it
    for lock in done:
        lock.acquire()
    claims = itertools.count()  # next() on it is atomic under the GIL: each chunk is claimed once
    errors = np.geterr()  # NumPy's error state is per thread: the workers take the caller's

    def take() -> None:
        while (k := next(claims)) < len(parts):
            try:
                with np.errstate(**errors):
                    results[k] = fn(*parts[k])
            except BaseException as e:  # re-raised by the caller
                failed.append(e)
            finally:
                done[k].release()

    with blas_threads(1):
        for _ in parts[1:]:
            _pool().submit(take)
        take()
        for lock in done:  # every chunk is claimed by now; nothing may run on after BLAS is restored
            lock.acquire()
    if failed:
        raise failed[0]
    return results


def over_batch(fn: Callable[[int, int], T], n: int, elements: int) -> list[T]:
    """fn(lo, hi) over chunks of a batch of n images when the work (elements in all) is worth sharing."""
    return run_batched(fn, n, worth_it=elements >= MIN_ELEMENTS)


def over_channels(fn: Callable[[int, int], T], channels: int, elements: int) -> list[T]:
    """fn(c0, c1) over chunks of the channels: batch norm's statistics are per channel, over the batch."""
    return run_batched(fn, channels, worth_it=elements >= MIN_ELEMENTS)


def over_images(fn: Callable[[int, int], T], n: int, columns: int, macs: int) -> list[T]:
    """fn(lo, hi) over chunks of a batch of n images of convolution, whose GEMMs have `columns` columns in
    all (output positions) and `macs` multiply-adds: split when each core gets wide enough GEMMs and the
    work is worth a wake-up."""
    return run_batched(fn, n, worth_it=columns >= 2 * MIN_COLUMNS_PER_CHUNK and macs >= MIN_MACS)


def images_or_bands(work: Callable, n: int, rows: int, cells: int) -> list:
    """work(a, e, r0, r1) — images a…e, rows r0…r1 of cells — over the cores: by chunks of the batch, or,
    with fewer images than threads, by bands of rows of every image (so that a batch of one still uses
    every core). `cells` in all decide whether splitting is worth it. → the chunks' results."""
    worth_it = cells >= MIN_COLUMNS_PER_CHUNK // 2
    if n >= workers() or rows < 2:
        return run_batched(lambda a, e: work(a, e, 0, rows), n, worth_it)
    return run_batched(lambda r0, r1: work(0, n, r0, r1), rows, worth_it)


def sum_parts(parts: list[np.ndarray]) -> np.ndarray:
    """The sum of per-chunk results (weight gradients), added in place into the first."""
    total = parts[0]
    for extra in parts[1:]:
        total += extra
    return total
