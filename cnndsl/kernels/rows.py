"""Copying and filling 1-D runs inside numba kernels, and the run of a row that a strided window reads.

numba's slice assignment (`dst[a:b] = src[c:d]`) costs about 100 cycles a call in checks and view
set-up; on the short rows of im2col (10–56 floats) that is most of the work. These loops compile to the
same vector code without it: LeNet-5's im2col 1.18 → 0.34 ms (docs/performance.md).
"""

from .jit import njit


@njit(cache=True, nogil=True, inline="always")
def copy(dst, src):
    """dst[k] = src[k] for k < len(dst) (1-D views)."""
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@njit(cache=True, nogil=True, inline="always")
def fill(dst, value):
    """dst[k] = value for k < len(dst) (a 1-D view)."""
    for k in range(dst.shape[0]):
        dst[k] = value


@njit(cache=True, nogil=True)
def inside(ow, sw, off, w):
    """The range lo…hi of output columns ox whose input column ox·sw + off lies in 0…w−1."""
    lo = min(max((-off + sw - 1) // sw, 0), ow)
    hi = max(min((w - 1 - off) // sw + 1, ow), lo)
    return lo, hi


@njit(cache=True, nogil=True, inline="always")
def deinterleave(src, even, odd):
    """even[k] = src[2k], odd[k] = src[2k + 1] for the k that src has (1-D views): a row split into its two
    phases at a column stride of 2, in one pass at a stride the compiler knows. The rest of even and odd
    is left as it is."""
    w = src.shape[0]
    pairs = w // 2
    for k in range(pairs):
        even[k] = src[2 * k]
        odd[k] = src[2 * k + 1]
    for k in range(pairs, w - pairs):  # an odd width's last column: a loop, as `if` and one store kept
        even[k] = src[2 * k]           # LLVM from vectorizing the loop above (4× slower, measured)
