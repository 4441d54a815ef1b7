"""BLAS beyond what NumPy offers: c += a @ bᵀ in place through a ctypes call (which releases the GIL,
so the per-core threads of kernels/schedule.py run their products together), and a context that holds
BLAS to a number of threads."""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from functools import cache

import numpy as np


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
