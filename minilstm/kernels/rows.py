"""What both cells' compiled row passes share: the products of a range of batch rows r0:r1, and the threaded
drivers that run the ranges (``forward_ranges``, ``backward_ranges``, ``run_rows``).

Rows are independent through time, so a layer's forward and BPTT run per row range (one Numba thread each,
``threads``). Per range: the input projection of all steps as one product of the rows' (n T, D) block
(``project_rows``), per step the product with W_h (``step_product``, ``step_product_t``: ``simd`` at few rows,
else NumPy's gemm), and after BPTT the rows' weight gradients and dx, one product each over all their steps
(``weight_products``). The products are NumPy's own cblas gemm (``blas``); arrays are C-contiguous, batch-first
(B, T, .) for the workspaces, time-major (T + 1, B, H) for the states. They trust their callers (the entries of
``numba_cpu`` and ``numba_gru`` check the contract first).
"""
import ctypes

import numba
import numpy as np
from numba import types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.core.typing.typeof import Purpose, typeof
from numba.extending import intrinsic

from . import simd, threads
from .blas import NO_TRANS, ROW_MAJOR, TRANS
from .math import JIT_INNER, JIT_PAR
from .workspace import scratch


@numba.njit(**JIT_INNER)
def copy_row(dst, src):
    """dst[:] = src for two 1-D arrays of one length, element by element: a slice assigned from an array would
    also compile Numba's shape-mismatch message (string formatting), seconds of a first run's compilation."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


@numba.njit(**JIT_INNER)
def project_rows(gemm, x, W_x, x_tm, xw, keep, r0, r1, one, zero):
    """xw[r0:r1] (n, T, G) = x[r0:r1] (n, T, D) @ W_x (D, G) as ONE product; with ``keep`` the rows' time-major
    copy x_tm[:, r0:r1] = x[r0:r1] for the cache too."""
    B, T, D = x.shape
    G, n, sz = W_x.shape[1], r1 - r0, x.itemsize
    if keep:
        for t in range(T):
            for r in range(r0, r1):
                copy_row(x_tm[t, r], x[r, t])
    gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n * T, G, D, one, x.ctypes.data + r0 * T * D * sz, D,
         W_x.ctypes.data, G, zero, xw.ctypes.data + r0 * T * G * sz, G)                  # x_t @ W_x, all t


@numba.njit(**JIT_INNER)
def step_product(gemm, vec, hs, t, W_h, a, r0, r1, one, zero):
    """a[r0:r1] (n, G) = hs[t, r0:r1] (h_{t-1}) @ W_h (H, G): ``simd`` when ``vec`` (no BLAS call, no packing
    of W_h), else gemm."""
    B, H = hs.shape[1], hs.shape[2]
    G, n, sz = W_h.shape[1], r1 - r0, hs.itemsize
    if vec:
        simd._product(n, G, H, hs.ctypes.data + (t * B + r0) * H * sz, H, W_h.ctypes.data, G,
                      a.ctypes.data + r0 * G * sz, G, zero)
    else:
        gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, G, H, one, hs.ctypes.data + (t * B + r0) * H * sz, H,
             W_h.ctypes.data, G, zero, a.ctypes.data + r0 * G * sz, G)


@numba.njit(**JIT_INNER)
def step_product_t(gemm, vec, da, t, W_h, W_hT, out, r0, r1, one, zero):
    """out[r0:r1] (n, H) = da[r0:r1, t] (n, G) @ W_h^T: ``simd._product_nt`` with W_h (H, G) itself when ``vec``,
    else a gemm with W_hT (G, H), its C-contiguous transpose."""
    T, G = da.shape[1], da.shape[2]
    H, n, sz = W_h.shape[0], r1 - r0, da.itemsize
    if vec:
        simd._product_nt(n, H, G, da.ctypes.data + (r0 * T + t) * G * sz, T * G, W_h.ctypes.data, G,
                         out.ctypes.data + r0 * H * sz, H, zero)
    else:
        gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, H, G, one, da.ctypes.data + (r0 * T + t) * G * sz, T * G,
             W_hT.ctypes.data, H, zero, out.ctypes.data + r0 * H * sz, H)


@numba.njit(**JIT_INNER)
def weight_products(gemm, x_tm, hs, da_x, da_h, W_x, x_bf, h_bf, dx, dW_x, dW_h, r0, r1, one, zero):
    """The rows' share of the weight gradients and their dx, ONE product each over all their steps:
    dW_x (D, G) = sum_t x_t^T da_x_t, dW_h (H, G) = sum_t h_{t-1}^T da_h_t (both overwritten), and
    dx[r0:r1] = da_x @ W_x^T. da_x, da_h (B, T, G): the gradients of the x side and h side pre-activations (the
    same array for the LSTM); x_bf (B, T, D), h_bf (B, T, H): workspaces for the batch-first copies of x_t and
    h_{t-1}, so a row range is one (n T, .) block."""
    T, B, D = x_tm.shape
    H = hs.shape[2]
    G, n, sz = da_x.shape[2], r1 - r0, da_x.itemsize
    for r in range(r0, r1):
        for t in range(T):
            copy_row(x_bf[r, t], x_tm[t, r])
            copy_row(h_bf[r, t], hs[t, r])                           # h_{t-1}
    blk = n * T                                                      # the rows' (n T, .) blocks
    gemm(ROW_MAJOR, TRANS, NO_TRANS, D, G, blk, one, x_bf.ctypes.data + r0 * T * D * sz, D,
         da_x.ctypes.data + r0 * T * G * sz, G, zero, dW_x.ctypes.data, G)              # sum_t x_t^T da_x_t
    gemm(ROW_MAJOR, TRANS, NO_TRANS, H, G, blk, one, h_bf.ctypes.data + r0 * T * H * sz, H,
         da_h.ctypes.data + r0 * T * G * sz, G, zero, dW_h.ctypes.data, G)              # sum_t h_{t-1}^T da_h_t
    gemm(ROW_MAJOR, NO_TRANS, TRANS, blk, D, G, one, da_x.ctypes.data + r0 * T * G * sz, G,
         W_x.ctypes.data, G, zero, dx.ctypes.data + r0 * T * D * sz, D)                 # dx_t = da_x_t @ W_x^T


def sum_ranges(parts):
    """parts[0] + parts[1] + ... (the row ranges' weight-gradient sums), in that order: the same rounding as
    ``parts.sum(axis=0)``, without its reduction machinery (2.5x slower for two (64, 256) parts)."""
    out = parts[0] + parts[1]
    for k in range(2, parts.shape[0]):
        out += parts[k]
    return out


# ---- the threaded drivers --------------------------------------------------------------------------------
# A row function fn(*args, *sums, bounds, k, one, zero) runs rows bounds[k]:bounds[k + 1] and writes its sums into
# sums[i][k]. The drivers call it on every range, one Numba thread each, through its address: a prange calling a
# compiled function by name links that function's code into the threaded region and LLVM optimises all of it again
# there (twice: the region and its caller), about 3 s of a first run per driver, twice (forward and backward);
# through the address the driver compiles in about 1 s and serves every row function of its argument types.

@intrinsic
def _function_at(typingctx, address, args, tail):
    """The compiled function at ``address`` (an int from ``_address``: Numba's calling convention, no result) as a
    first-class function of arguments of the types of (*args, *tail)."""
    fn_type = types.FunctionType(types.void(*args.types, *tail.types))

    def codegen(context, builder, signature, llargs):
        fn = cgutils.create_struct_proxy(fn_type)(context, builder)
        fn.c_addr = fn.py_addr = context.get_constant_null(types.voidptr)        # no C wrapper, no Python object
        fn.jit_addr = builder.inttoptr(llargs[0], context.get_value_type(types.voidptr))
        return fn._getvalue()
    return fn_type(address, args, tail), codegen


@numba.njit(**JIT_PAR)
def forward_ranges(address, bounds, one, zero, *args):
    """The row function at ``address`` on every range k of ``bounds``, one Numba thread each: fn(*args, bounds, k,
    one, zero) (the forward passes; ``backward_ranges`` is the same for the backward, in its own cache file: the two
    are compiled at once by two processes, ``compile_ahead``, and Numba's cache index of one function is not safe
    for that)."""
    fn = _function_at(address, args, (bounds, bounds[0], one, zero))
    for k in numba.prange(bounds.shape[0] - 1):
        fn(*args, bounds, np.int64(k), one, zero)


@numba.njit(**JIT_PAR)
def backward_ranges(address, bounds, one, zero, *args):
    """``forward_ranges`` for the backward passes."""
    fn = _function_at(address, args, (bounds, bounds[0], one, zero))
    for k in numba.prange(bounds.shape[0] - 1):
        fn(*args, bounds, np.int64(k), one, zero)


_ADDRESSES = {}


def _address(fn, call):
    """The address of ``fn`` (a Numba dispatcher) compiled for exactly the types of the arguments ``call`` (it is
    compiled, or loaded from the cache, the first time). Keyed by each argument's fingerprint, the bytes Numba's own
    type cache keys by (an array's dtype, ndim, layout and writability; about 2 us for a layer's arguments, where
    typing them in Python takes 200), and by the address of each ctypes function among them (the gemm: its
    fingerprint does not tell float32's from float64's)."""
    key = (fn, *map(compute_fingerprint, call),
           *(ctypes.cast(a, ctypes.c_void_p).value for a in call if isinstance(a, ctypes._CFuncPtr)))
    address = _ADDRESSES.get(key)
    if address is None:
        sig = tuple(typeof(a, Purpose.argument) for a in call)
        fn.compile(sig)
        compiled = fn.overloads[sig]
        address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
        if not address:                               # a null jit_addr would be called as a Python object
            raise RuntimeError(f"minilstm.kernels: no compiled entry for {fn.py_func.__name__}{sig}")
        _ADDRESSES[key] = address
    return address


def run_rows(rows, ranges, args, sums, B, H, gates, nt, vec, dtype):
    """Run a layer's compiled pass ``rows(*args, *sums, bounds, k, one, zero)`` over its B batch rows: on ``nt``
    threads (``ranges``: ``forward_ranges`` or ``backward_ranges``; range k summing into sums[i][k]; NumPy's BLAS
    held at one thread), or on the calling thread (one range, k = 0; one BLAS thread for small steps, none to hold
    at batch 1 with ``simd`` products). gates: the cell's gate count (the size of a step's product)."""
    one, zero = dtype.type(1), dtype.type(0)
    bounds = threads.row_bounds(B, nt)
    call = (*args, *sums, bounds, 0, one, zero)
    if nt > 1:
        with threads.one_thread_blas():
            ranges(_address(rows, call), bounds, one, zero, *args, *sums)
    elif B == 1 and vec:                              # no BLAS call per step: nothing to hold at one thread
        rows(*call)
    else:
        with threads.step_blas_threads(B, H, gates):
            rows(*call)


def backward_weights(W_h, gemm, vec):
    """What the backward's per-step product reads: W_h itself when ``simd._product_nt`` makes it (``vec``, NumPy's
    gemm reachable), else W_h.T as a C-contiguous per-thread workspace for a gemm or ``simd.vecmat``."""
    if gemm is not None and vec:
        return W_h
    W_hT = scratch("W_hT", W_h.shape[::-1], W_h.dtype)
    simd.transpose(W_h, W_hT)
    return W_hT
