"""cnndsl: write a convolutional network as text, see it drawn, count what it costs, run it.

    >>> import cnndsl
    >>> net = cnndsl.load("lenet5")
    >>> net.param_count, net.macs
    (61706, 416520)
"""

import os

# OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each matrix product, stealing the cores
# that cnndsl's own kernels run on next; 2^4 cycles costs no GEMM throughput (docs/performance.md).
# It takes effect only if NumPy is imported after cnndsl; a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .errors import CnnError, SourcePosition  # noqa: E402
from .network import Network, load, parse  # noqa: E402

__all__ = ["CnnError", "Network", "SourcePosition", "load", "parse"]
__version__ = "0.1.0"
