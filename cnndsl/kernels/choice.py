"""Which convolution algorithm a layer's shapes take — plain Python, read by the kernels
(kernels/conv.py) and by the memory estimate (engine/memory.py), which must not import numba.

Thresholds and why they are where they are: docs/performance.md.
"""

from __future__ import annotations

# Winograd for 3×3 stride-1 layers with at least this many input and output channels per group, 2×2-output
# tiles in the batch and output rows and columns: below them the transforms (of the data, and of the
# filters once per call) cost more than the multiplications they save — a 7×7 map's tiles compute 64
# outputs for 49, and its narrow GEMMs run slowly.
MIN_WINOGRAD_CHANNELS = 16
MIN_WINOGRAD_TILES = 128
MIN_WINOGRAD_SIDE = 8

# Stride-1 layers with few filters run on the padded-width grid (kernels/flat.py), whose GEMMs are
# memory-bound: LeNet-5's 6 and 16.
MAX_FLAT_FILTERS = 32


def use_winograd(w_shape, stride, dilation, groups: int, n: int, out_hw) -> bool:
    f, cg, kh, kw = w_shape
    tiles = n * ((out_hw[0] + 1) // 2) * ((out_hw[1] + 1) // 2)
    return ((kh, kw) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and min(cg, f // groups) >= MIN_WINOGRAD_CHANNELS and tiles >= MIN_WINOGRAD_TILES
            and min(out_hw) >= MIN_WINOGRAD_SIDE)


def pointwise(w_shape, stride, pad, dilation, groups: int) -> bool:
    """A 1×1 convolution with stride 1 and no padding is a matrix product per image: no im2col."""
    return tuple(w_shape[2:]) == (1, 1) and tuple(stride) == (1, 1) and tuple(pad) == (0, 0) and groups == 1


def use_flat(w_shape, stride, groups: int) -> bool:
    return tuple(stride) == (1, 1) and w_shape[0] // groups <= MAX_FLAT_FILTERS
