"""numba's `njit`, for every kernel of this package: importing it first makes numba's cache saves safe
for processes compiling side by side (cache.py), and spares each process the import of SciPy's linear
algebra that numba makes when its first kernel loads (defer_blas_check)."""

import sys

from numba import njit

from .cache import guard

guard()


def defer_blas_check() -> None:
    """numba's array library, imported when a process's first kernel compiles or loads, checks that a BLAS
    is there by importing `scipy.linalg.cython_blas` — all of scipy.linalg, 0.12–0.33 s on 2 cores of an
    AMD EPYC (entry 71), in every run and in the first-run helper. No kernel here calls BLAS from numba
    (the matrix products are NumPy's, outside the kernels), and SciPy is a dependency: that one check
    passes without the import. Any other caller (a kernel of the user's own with np.dot) checks for real."""
    try:
        from numba.np import linalg
    except ImportError:  # another numba's layout: it checks as it always did
        return
    real = linalg.ensure_blas

    def ensure_blas():
        if sys._getframe(1).f_code.co_name != "_check_blas":
            return real()
        return None

    ensure_blas.__wrapped__ = real
    linalg.ensure_blas = ensure_blas


defer_blas_check()

__all__ = ["njit"]
