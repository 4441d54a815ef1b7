"""The in-place gemm of kernels/blas.py: exact against NumPy, and from NumPy's own BLAS where NumPy's
library exports one, so that one thread pool serves every product (a second library's idle threads spun
against the first's: docs/performance.md, entry 64)."""

import ctypes

import numpy as np
import pytest

from cnndsl.kernels import blas
from tests.test_process import python


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (5, 3, 7), (64, 17, 300), (3, 129, 2)])
def test_add_product_t_accumulates_a_times_b_transposed(dtype, m, n, k):
    r = np.random.default_rng(m * n * k)
    a, b = r.standard_normal((m, k)).astype(dtype), r.standard_normal((n, k)).astype(dtype)
    c = r.standard_normal((m, n)).astype(dtype)
    want = c.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64).T
    blas.add_product_t(a, b, c)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, want, rtol=tol, atol=tol)


def _numpy_exports_cblas() -> bool:
    path = blas._numpy_blas()
    if path is None:
        return False
    lib = ctypes.CDLL(path)
    return any(getattr(lib, name, None) is not None for name in blas.NUMPY_CBLAS[np.float32])


@pytest.mark.skipif(not _numpy_exports_cblas(), reason="NumPy's BLAS exports no 64-bit cblas gemm")
def test_the_gemm_is_numpys_own():
    assert blas._gemm(np.dtype(np.float32))[0] == "cblas"
    # a network's backward runs every gemm path (im2col, pointwise, Winograd); numba loads SciPy's BLAS
    # (its own linear algebra), whose threads idle as long as nothing calls it: count the calls
    out = python("""
        import sys
        import numpy as np
        import cnndsl
        net = cnndsl.parse('''
            network T
            input 16x12x12
            conv 16 3x3 pad=1
            conv 16 1x1
            conv 8 3x3 stride=2
            globalavgpool
            flatten
            dense 4
            softmax
            ''').init(0)
        import ctypes
        from cnndsl.kernels import blas
        kind, gemm, real = blas._gemm(np.dtype(np.float32))
        calls = []
        def counted(*args):
            calls.append(1)
            return gemm(*args)
        blas._gemm = lambda dtype: (kind, counted, real)
        x = np.random.default_rng(0).standard_normal((4, 16, 12, 12)).astype(np.float32)
        net.engine.loss(x, np.array([0, 1, 2, 3]), mode="train")
        net.engine.backward()
        from cnndsl.kernels import schedule
        shapes = [((16, 16, 3, 3), (1, 1), (1, 1), (12, 12)), ((16, 16, 1, 1), (1, 1), (0, 0), (12, 12)),
                  ((8, 16, 3, 3), (2, 2), (1, 1), (6, 6))]
        print(*[schedule.conv_algorithm(w, s, p, (1, 1), 1, 4, hw) for w, s, p, hw in shapes])
        print(kind, len(calls) > 0)
    """)
    assert out.splitlines() == ["winograd pointwise im2col", "cblas True"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_numpys_cblas_the_gemm_is_scipys_and_as_exact(dtype, monkeypatch):
    monkeypatch.setattr(blas, "_cblas", lambda dtype: None)
    blas._gemm.cache_clear()
    try:
        assert blas._gemm(np.dtype(dtype))[0] == "fortran"
        r = np.random.default_rng(7)
        a, b, c = (r.standard_normal(s).astype(dtype) for s in ((9, 33), (4, 33), (9, 4)))
        want = c.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64).T
        blas.add_product_t(a, b, c)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(c, want, rtol=tol, atol=tol)
    finally:
        blas._gemm.cache_clear()
