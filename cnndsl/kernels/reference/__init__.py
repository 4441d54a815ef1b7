"""The reference kernels: every op's forward and backward as plain loops over the output, written to be
read (in the manner of cs231n's naive layers). Each function states its formula and shapes; NumPy does
the arithmetic of one output position at a time, vectorized over the batch and channels only.

`cnndsl run NET --kernels reference` runs a whole network on them, and tests/kernels/ checks every fast
path (cnndsl/kernels/*.py) against them on the same cases, and them against PyTorch and float64 finite
differences. They are slow — seconds where the fast kernels take milliseconds — and meant to be.
"""
