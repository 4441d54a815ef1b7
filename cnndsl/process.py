"""Settings of the whole process that make cnndsl's kernels faster — applied by the `cnndsl` command,
and by a library user only on request (`cnndsl.tune_process()`): importing cnndsl changes nothing.

- `OPENBLAS_THREAD_TIMEOUT=4`: OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each matrix
  product, stealing the cores cnndsl's own kernels run on next; 2^4 cycles costs no GEMM throughput
  (docs/performance.md). It takes effect only before NumPy loads OpenBLAS; a value already set is kept.
- glibc's malloc keeps freed blocks of up to 32 MB in the heap and up to 512 MB of freed heap, so that
  each step's activations reuse memory instead of faulting in fresh, zeroed pages (30 % of LeNet-5's
  forward here). Any `MALLOC_…` variable or `GLIBC_TUNABLES` in the environment leaves glibc alone.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys


def tune_process() -> dict[str, bool]:
    """Apply both settings; returns which took effect ({"openblas_timeout": …, "malloc": …})."""
    done = {"openblas_timeout": False, "malloc": False}
    if "numpy" not in sys.modules and "OPENBLAS_THREAD_TIMEOUT" not in os.environ:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"
        done["openblas_timeout"] = True
    done["malloc"] = _reuse_freed_memory()
    return done


def _reuse_freed_memory() -> bool:
    if platform.libc_ver()[0] != "glibc" or any(k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"
                                                for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    libc.mallopt(-3, 32 << 20)   # M_MMAP_THRESHOLD
    libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
    return True
