"""BLAS beyond what NumPy offers: c += a @ bᵀ in place through a ctypes call (which releases the GIL,
so the per-core threads of kernels/schedule.py run their products together), and a context that holds
BLAS to a number of threads.

The gemm is NumPy's own BLAS where its library exports one (NumPy's wheels bundle OpenBLAS with
`scipy_cblas_sgemm64_`), else SciPy's. One library matters: SciPy's wheels bundle a second OpenBLAS with a
thread pool of its own, and after a call each pool's threads spin on the cores for a while (~0.1 s unless
the `cnndsl` command shortened it, which it cannot once NumPy is loaded, as in a notebook). Alternating
the two — a matmul (NumPy's) then a gemm (SciPy's), as Winograd's and im2col's backward do — made
ResNet-18's batch-1 training step 2.4× slower in a process that imported NumPy first (docs/performance.md,
entry 64)."""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from functools import cache

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enums
# NumPy's OpenBLAS (64-bit integers, symbols suffixed) — the names of its cblas gemm, by dtype
NUMPY_CBLAS = {np.float32: ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
               np.float64: ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}


def _controllers():
    from threadpoolctl import ThreadpoolController
    return [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]


@cache
def _numpy_blas() -> str | None:
    """The file of the BLAS library NumPy itself loaded, if threadpoolctl can tell it."""
    import os
    root = os.path.dirname(os.path.dirname(np.__file__))
    for lib in _controllers():
        if os.path.basename(os.path.dirname(lib.filepath)) in ("numpy.libs", ".dylibs") or lib.filepath.startswith(
                os.path.join(root, "numpy")):
            return lib.filepath
    return None


@cache
def _cblas(dtype: np.dtype):
    """NumPy's own cblas ?gemm with 64-bit integers as a ctypes function, or None."""
    path = _numpy_blas()
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    for name in NUMPY_CBLAS[np.dtype(dtype).type]:
        fn = getattr(lib, name, None)
        if fn is not None:
            real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            i, n, p = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
            fn.argtypes = [i, i, i, n, n, n, real, p, n, p, n, real, p, n]
            fn.restype = None
            return fn, real
    return None


@cache
def _blas():
    """The BLAS libraries whose threads blas_threads holds: every one loaded once the gemm is chosen."""
    _gemm(np.dtype(np.float32))
    _gemm(np.dtype(np.float64))
    return _controllers()


@cache
def _gemm(dtype: np.dtype):
    """(kind, function, real): NumPy's cblas gemm, or SciPy's Fortran ?gemm (through its Cython table;
    unlike SciPy's f2py wrappers, a ctypes call releases the GIL)."""
    found = _cblas(dtype)
    if found is not None:
        return ("cblas",) + found
    import scipy.linalg.blas  # noqa: F401 — loads SciPy's BLAS
    from numba.extending import get_cython_function_address
    real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    addr = get_cython_function_address("scipy.linalg.cython_blas", "sgemm" if dtype == np.float32 else "dgemm")
    ip, rp, vp, cp = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(real), ctypes.c_void_p, ctypes.c_char_p
    return ("fortran", ctypes.CFUNCTYPE(None, cp, cp, ip, ip, ip, rp, vp, ip, vp, ip, rp, vp, ip)(addr), real)


def add_product_t(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    """c += a @ bᵀ in place, for C-contiguous a (M, K), b (N, K), c (M, N) of one float dtype: one BLAS
    gemm with β = 1, where NumPy would build the product in a temporary as large as c first."""
    assert a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous
    assert a.dtype == b.dtype == c.dtype
    kind, gemm, real = _gemm(c.dtype)
    (m, k), n = a.shape, b.shape[0]
    if kind == "cblas":
        gemm(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1.0, a.ctypes.data, k, b.ctypes.data, k, 1.0, c.ctypes.data, n)
        return
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
