"""Numba kernels: module-level @njit(cache=True) loops over C-contiguous NCHW arrays.

Forward kernels write into outputs the caller allocates; backward kernels return gradients in the
order of the forward inputs. They are written once for any float dtype (float32 in training, float64
for gradient checks); constants are cast to the array's dtype so a float32 loop stays float32.
"""
