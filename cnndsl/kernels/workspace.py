"""Sizes of the kernels' scratch buffers, in floats: read by the kernels and by the memory estimate
(engine/memory.py), which must not import numba to plan a run."""

WORKSPACE = 1 << 21       # column buffer per thread: several whole images, or bands of a large one's rows
FLAT_WORKSPACE = 1 << 18  # memory-bound: columns (or padded planes) that stay in the core's L2 cache
