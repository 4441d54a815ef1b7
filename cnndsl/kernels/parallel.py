"""All cores without fighting thread pools: the batch is cut into one chunk per core, and each chunk
runs serial numba kernels (compiled nogil) and single-threaded BLAS calls in its own thread (the caller
takes the first chunk, a pool of WORKERS − 1 threads the others).

Numba's parallel regions and OpenBLAS's threads both spin while idle, and interleaved they slow each
other 3–4× (docs/reference.md). Here only one pool runs at a time: inside `run_batched` BLAS is held
to one thread per chunk; outside it, BLAS keeps all its threads (one large GEMM on small batches).
`CNNDSL_THREADS=1` turns chunking off.
"""

from __future__ import annotations

import ctypes
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import cache
from typing import Callable, TypeVar

import numpy as np

from ..threads import threads_from_env

T = TypeVar("T")
WORKERS = threads_from_env()


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max(1, WORKERS - 1), thread_name_prefix="cnndsl")


@cache
def _blas():
    import scipy.linalg.blas  # noqa: F401 — loads SciPy's BLAS (add_product_t) before the snapshot
    from threadpoolctl import ThreadpoolController
    return [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]


@cache
def _gemm(dtype: np.dtype):
    """BLAS ?gemm (SciPy's, Fortran calling convention) as a ctypes function: unlike SciPy's f2py
    wrappers, a ctypes call releases the GIL, so the per-core threads run their products together."""
    from numba.extending import get_cython_function_address
    _blas()
    real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    addr = get_cython_function_address("scipy.linalg.cython_blas", "sgemm" if dtype == np.float32 else "dgemm")
    ip, rp, vp, cp = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(real), ctypes.c_void_p, ctypes.c_char_p
    return ctypes.CFUNCTYPE(None, cp, cp, ip, ip, ip, rp, vp, ip, vp, ip, rp, vp, ip)(addr), real


def add_product_t(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    """c += a @ bᵀ in place, for C-contiguous a (M, K), b (N, K), c (M, N) of one float dtype: one BLAS
    gemm with β = 1, where NumPy would build the product in a temporary as large as c first."""
    assert a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous
    gemm, real = _gemm(c.dtype)
    (m, k), n = a.shape, b.shape[0]
    i = ctypes.c_int
    one = real(1.0)
    # column-major, cᵀ (N × M) += b (N × K, stored as its transpose) · aᵀ (K × M)
    gemm(b"T", b"N", i(n), i(m), i(k), one, b.ctypes.data, i(k), a.ctypes.data, i(k), one, c.ctypes.data, i(n))


@contextmanager
def blas_threads(n: int):
    libs = _blas()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, k in zip(libs, before):
            lib.set_num_threads(k)


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges that cover 0…n in `parts` nearly equal pieces (none empty)."""
    parts = max(1, min(parts, n))
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def run_batched(fn: Callable[[int, int], T], n: int, worth_it: bool = True) -> list[T]:
    """fn(lo, hi) over the chunks of a batch of n, in parallel when that is worth it; results in order."""
    if WORKERS == 1 or n < 2 or not worth_it:
        return [fn(0, n)]
    first, *rest = chunks(n, WORKERS)
    errors = np.geterr()  # NumPy's error state is per thread: the workers take the caller's

    def call(lo: int, hi: int) -> T:
        with np.errstate(**errors):
            return fn(lo, hi)
    with blas_threads(1):
        futures = [_pool().submit(call, *r) for r in rest]
        try:
            head = fn(*first)  # the caller takes a chunk too: one thread wake-up fewer per call
        finally:
            wait(futures)  # even if the caller's chunk raised: nothing may run on after BLAS is restored
        return [head] + [f.result() for f in futures]


def sum_parts(parts: list[np.ndarray]) -> np.ndarray:
    """The sum of per-chunk results (weight gradients), added in place into the first."""
    total = parts[0]
    for extra in parts[1:]:
        total += extra
    return total


# Below this many elements an element-wise or pooling kernel is not worth two threads.
MIN_ELEMENTS = 1 << 16


def over_batch(fn: Callable[[int, int], T], n: int, elements: int) -> list[T]:
    """fn(lo, hi) over batch chunks when the work is large enough to share."""
    return run_batched(fn, n, worth_it=elements >= MIN_ELEMENTS)
