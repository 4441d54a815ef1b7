"""numba's `njit`, for every kernel of this package: importing it first makes numba's cache saves safe
for processes compiling side by side (cache.py)."""

from numba import njit

from .cache import guard

guard()

__all__ = ["njit"]
