"""Checked entries to the kernels' private compiled code (the LSTM's passes, ``simd``'s products), for the
tests: each checks the size contract before handing its arrays to compiled code, so a test can feed them hostile
arrays and expect a ShapeError, never a crash. The library calls the compiled code from its own entries."""
import numpy as np

from minilstm.errors import InputTypeError, ShapeError
from minilstm.kernels import check_contract, check_kernel_dtype, simd
from minilstm.kernels import numba_cpu as N


def gates_forward_step(a, xw_t, bias, c_prev, gates_t, c_t, h_t, tanh_c_t):
    """One step's pointwise part (checked entry to the compiled pass).

    a: (B, 4H) h_{t-1} @ W_h;  xw_t: (B, 4H) x_t @ W_x;  bias: (4H,) b;  c_prev: (B, H) C_{t-1}
    Out: gates_t (B, 4H) activated gates [f, i, c~, o]; c_t, h_t, tanh_c_t (B, H).
    """
    B, H = _sizes("gates_forward_step", c_prev, "c_prev")
    check_contract("gates_forward_step", {
        "a": (a, (B, 4 * H)), "xw_t": (xw_t, (B, 4 * H)), "bias": (bias, (4 * H,)), "c_prev": (c_prev, (B, H)),
        "gates_t": (gates_t, (B, 4 * H)), "c_t": (c_t, (B, H)), "h_t": (h_t, (B, H)), "tanh_c_t": (tanh_c_t, (B, H))})
    N._gates_forward_step(a, xw_t, bias, c_prev, gates_t, c_t, h_t, tanh_c_t)


def gates_backward_step(dh, dc_next, gates_t, c_prev, tanh_c_t, da_t, dc_prev, db, one):
    """One step's pointwise backward (checked entry to the compiled pass); shapes as in
    ``numba_cpu._gates_backward_step``."""
    B, H = _sizes("gates_backward_step", dh, "dh")
    dt = check_contract("gates_backward_step", {
        "dh": (dh, (B, H)), "dc_next": (dc_next, (B, H)), "gates_t": (gates_t, (B, 4 * H)),
        "c_prev": (c_prev, (B, H)), "tanh_c_t": (tanh_c_t, (B, H)), "da_t": (da_t, (B, 4 * H)),
        "dc_prev": (dc_prev, (B, H)), "db": (db, (4 * H,))})
    N._gates_backward_step(dh, dc_next, gates_t, c_prev, tanh_c_t, da_t, dc_prev, db, dt.type(one))


def forward_loop_b1(xw, W_h, bias, hs, cs, gates, tanh_c, a):
    """Batch-1 forward time loop (checked entry); shapes as in ``_forward_loop_b1``."""
    T = _sizes("forward_loop_b1", xw, "xw", ndim=3)[0]
    H = _sizes("forward_loop_b1", W_h, "W_h")[0]
    check_contract("forward_loop_b1", {
        "xw": (xw, (T, 1, 4 * H)), "W_h": (W_h, (H, 4 * H)), "bias": (bias, (4 * H,)), "hs": (hs, (T + 1, 1, H)),
        "cs": (cs, (T + 1, 1, H)), "gates": (gates, (T, 1, 4 * H)), "tanh_c": (tanh_c, (T, 1, H)),
        "a": (a, (1, 4 * H))})
    N._forward_loop_b1(xw, W_h, bias, hs, cs, gates, tanh_c, a)


def backward_loop_b1(dh_tm, has_seq, dh_next, dc_next, gates, cs, tanh_c, W_hT, da, dh, dc_prev, db, one):
    """Batch-1 BPTT loop (checked entry); shapes as in ``_backward_loop_b1``; dh_tm (T, 1, H) when has_seq."""
    T = _sizes("backward_loop_b1", gates, "gates", ndim=3)[0]
    H = _sizes("backward_loop_b1", W_hT, "W_hT")[1]
    arrays = {"dh_next": (dh_next, (1, H)), "dc_next": (dc_next, (1, H)), "gates": (gates, (T, 1, 4 * H)),
              "cs": (cs, (T + 1, 1, H)), "tanh_c": (tanh_c, (T, 1, H)), "W_hT": (W_hT, (4 * H, H)),
              "da": (da, (T, 1, 4 * H)), "dh": (dh, (1, H)), "dc_prev": (dc_prev, (1, H)), "db": (db, (4 * H,))}
    if has_seq:
        arrays["dh_tm"] = (dh_tm, (T, 1, H))
    dt = check_contract("backward_loop_b1", arrays)
    if not has_seq:
        dh_tm = np.zeros((1, 1, 1), dt)
    N._backward_loop_b1(dh_tm, bool(has_seq), dh_next, dc_next, gates, cs, tanh_c, W_hT, da, dh, dc_prev, db,
                      dt.type(one))


def _sizes(kernel, a, name, ndim=2):
    if not isinstance(a, np.ndarray) or a.ndim != ndim:
        raise ShapeError(f"{kernel}: {name} must be a {ndim}-D NumPy array, got "
                         f"{getattr(a, 'shape', type(a).__name__)}.")
    return a.shape


# ---- simd's products: C = A @ W and A @ W.T, checked ----------------------------------------------------

def _checked(kernel, A, W, k_axis):
    """A (n, K) with contiguous rows (any row stride), W C-contiguous with K on ``k_axis``; one float dtype.
    Returns (n, N, K, lda, dtype)."""
    for name, a in (("A", A), ("W", W)):
        if not isinstance(a, np.ndarray) or a.ndim != 2:
            raise ShapeError(f"{kernel}: {name} must be a 2-D NumPy array, got "
                             f"{getattr(a, 'shape', type(a).__name__)}.")
    check_kernel_dtype(A.dtype, kernel)
    if W.dtype != A.dtype:
        raise InputTypeError(f"{kernel}: W has dtype {W.dtype}, A {A.dtype}; use one dtype.")
    n, K = A.shape
    N = W.shape[1 - k_axis]
    if W.shape[k_axis] != K:
        raise ShapeError(f"{kernel}: A is {A.shape} and W {W.shape}; W's {'rows' if k_axis == 0 else 'columns'} "
                         f"must number A's columns ({K}).")
    size = A.itemsize
    if A.size == 0 or W.size == 0:                   # nothing is read: any layout will do
        return n, N, K, K, A.dtype
    if not W.flags.c_contiguous or (n > 1 and (A.strides[0] < K * size or A.strides[0] % size)) or \
            (K > 1 and A.strides[1] != size):
        raise ShapeError(f"{kernel}: W must be C-contiguous and A's rows contiguous (np.ascontiguousarray).")
    return n, N, K, (A.strides[0] // size if n > 1 else K), A.dtype


def _run(raw, kernel, A, W, k_axis):
    """C (n, N) from the raw product ``raw`` on checked A and W (W's row length: N for A @ W, K for A @ W.T)."""
    n, N, K, lda, dt = _checked(kernel, A, W, k_axis)
    C = np.empty((n, N), dtype=dt)
    if C.size and K:
        raw(n, N, K, A.ctypes.data, lda, W.ctypes.data, W.shape[1], C.ctypes.data, N, dt.type(0))
    elif C.size:
        C[...] = 0
    return C


def product(A, W):
    """C (n, N) = A (n, K) @ W (K, N), a new array: the kernels' per-step product, checked (float32 or float64, one
    dtype, W C-contiguous, A's rows contiguous; a mis-sized or strided array is a ShapeError, never a bad read)."""
    return _run(simd._product, "simd.product", A, W, 0)


def product_nt(A, W):
    """C (n, N) = A (n, K) @ W.T for W (N, K), a new array: BPTT's product with W_h itself, checked as ``product``."""
    return _run(simd._product_nt, "simd.product_nt", A, W, 1)
