"""cnndsl: write a convolutional network as text, see it drawn, count what it costs, run it.

    >>> import cnndsl
    >>> net = cnndsl.load("lenet5")
    >>> net.param_count, net.macs
    (61706, 416520)
"""

import ctypes
import os
import platform

# OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each matrix product, stealing the cores
# that cnndsl's own kernels run on next; 2^4 cycles costs no GEMM throughput (docs/performance.md).
# It takes effect only if NumPy is imported after cnndsl; a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def _reuse_freed_memory() -> None:
    """glibc hands every block over its mmap threshold back to the system when freed, so each step's
    activations land on fresh pages that the kernel must fault in and zero: 30 % of LeNet-5's forward
    here. Blocks up to 32 MB (glibc's maximum) now come from the heap, and up to 512 MB of freed heap is
    kept for the next step, as PyTorch's tuning guides configure jemalloc. Malloc settings the user gave
    in the environment win (the memory benchmark gives its own, to follow live memory)."""
    if platform.libc_ver()[0] != "glibc" or any(k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"
                                                for k in os.environ):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 32 << 20)   # M_MMAP_THRESHOLD
    libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD


_reuse_freed_memory()

from .errors import CnnError, SourcePosition  # noqa: E402
from .network import Network, load, parse  # noqa: E402

__all__ = ["CnnError", "Network", "SourcePosition", "load", "parse"]
__version__ = "0.1.0"
