"""The size contract of compiled code, and what the fused kernels prepare before their compiled loops.

Compiled code reads and writes raw memory, so every kernel entry checks its arrays first: exact shapes,
C-contiguous, one dtype, float32 or float64 (``check_contract``), NumPy arrays only (``check_host_arrays``).
"""
import numpy as np

from ..backend import get_array_module
from ..errors import InputTypeError, ShapeError
from ..validate import FLOAT_DTYPES, check_same_module

KERNEL_DTYPES = FLOAT_DTYPES


def check_kernel_dtype(dtype, family):
    """The compiled kernels exist for float32 and float64 only."""
    if np.dtype(dtype) not in KERNEL_DTYPES:
        raise InputTypeError(f"the {family} kernels take float32 or float64 arrays, got {np.dtype(dtype)}; cast with "
                             ".astype(np.float64) or use kernels='numpy'.")


def check_contract(kernel, arrays, array_type=np.ndarray):
    """Size contract of one compiled kernel: ``arrays`` maps a name to (array, expected shape).

    Every array must be an ``array_type`` of exactly that shape, C-contiguous, all of one kernel dtype.
    Cheap (no pass over the data); call it before handing arrays to compiled code.
    """
    dtype = None
    for name, (a, shape) in arrays.items():
        if not isinstance(a, array_type):
            raise InputTypeError(f"{kernel}: {name} must be a {array_type.__module__}.{array_type.__name__}, got "
                                 f"{type(a).__name__}.")
        if tuple(a.shape) != tuple(shape):
            raise ShapeError(f"{kernel}: {name} must have shape {tuple(shape)}, got {tuple(a.shape)}.")
        if not a.flags.c_contiguous:
            raise ShapeError(f"{kernel}: {name} must be C-contiguous (compiled code reads it as raw memory), got a "
                             f"strided or Fortran-ordered view; pass np.ascontiguousarray({name}).")
        if dtype is None:
            dtype = a.dtype
            check_kernel_dtype(dtype, kernel)
        elif a.dtype != dtype:
            raise InputTypeError(f"{kernel}: {name} has dtype {a.dtype}, the other arrays {dtype}; use one dtype.")
    return dtype


def check_host_arrays(ref, ref_name, **others):
    """NumPy arrays of float32 or float64 (the compiled kernels cannot read CuPy or other dtypes)."""
    if not isinstance(ref, np.ndarray):
        raise InputTypeError(f"the Numba kernels take NumPy arrays; {ref_name} is a {type(ref).__name__} "
                             "(use kernels='cuda' for CuPy arrays).")
    check_kernel_dtype(ref.dtype, "numba")
    check_same_module(others, ref_name, ref)


# ---- what the fused kernels prepare before their compiled loops (the reference has no use for these) ----

def project_inputs(x, W_x):
    """x_t @ W_x for every time step as ONE product, without the bias (the fused gate passes add it, which
    saves a full read and write of xw). x: (B, T, D) -> (x_tm (T, B, D) time-major copy, xw (T, B, G*H))."""
    xp = get_array_module(x)
    B, T, D = x.shape
    x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2))
    return x_tm, (x_tm.reshape(T * B, D) @ W_x).reshape(T, B, -1)


def contiguous_weights(params, dtype):
    """W_x, W_h as C-contiguous arrays of ``dtype`` (copies only where needed). The fused kernels hand them to
    compiled code as raw memory, so a cache whose params were cast after the forward is read in the cache's
    dtype, as the reference's own products would promote it."""
    xp = get_array_module(params["W_h"])
    return tuple(xp.ascontiguousarray(params[k], dtype=dtype) for k in ("W_x", "W_h"))
