"""Fused CPU kernels (Numba) for the GRU: the same ``gru_forward``/``gru_backward`` as ``minilstm.core.gru``,
on the LSTM kernels' machinery (``numba_cpu``'s plan, the shared ``math``, ``simd``, ``blas``, ``threads`` and
``workspace`` modules).

With NumPy's gemm reachable from compiled code (``blas._gemm``), a layer's whole forward and BPTT are one
compiled call per row range (``_gru_forward_rows``, ``_gru_backward_rows``), the batch rows split over Numba's
threads as ``threads.loop_threads`` allows: the rows' input projection as one product, then per step one
product ``h_{t-1} @ W_h`` (``simd`` at few rows, else gemm) and ONE pass that adds both biases, applies the
gate nonlinearities and writes h_t; backward, per step one pass for all gate derivatives (both bias gradients
summed there) and one product for the part of dh_{t-1} that goes through W_h (the direct part dh_t * z_t is
carried to the next pass, which adds it), then the rows' weight gradients and dx as one product each. Without
that gemm the loop runs in Python (per step NumPy's matmul and one compiled pass), or compiled with
``simd.vecmat`` at batch 1. The scalar ``sigmoid``/``tanh`` are ``math``'s (in float64 a polynomial exp within
4 ulp of libm, in float32 a vectorizable rational tanh). Results match the reference to float rounding (the
products are summed in another order than NumPy's), and are bitwise reproducible for a given number of threads.

Cache contents and results are the reference's, so the two can be mixed and compared.
Every entry checks its arguments first (``minilstm.validate``'s checks, then the kernels' size
contract): a compiled loop that reads past an array is a crash, not an error.
"""
import numba
import numpy as np

from ..core.common import carried_gradients, initial_states
from ..core.gru import GRU_CACHE_KEYS, gru_buffers, gru_outputs, gru_weights_backward
from ..validate import check_sequence_backward_args, check_sequence_inputs
from . import blas, compile_ahead, rows, simd, threads
from .contract import check_contract, check_host_arrays, contiguous_weights, project_inputs
from .math import JIT, JIT_INNER, sigmoid, tanh
from .workspace import scratch


@numba.njit(**JIT_INNER)
def _gru_forward_row(a, xw, b_x, b_h, h_prev, g, hn, h_t):
    """One batch row: a = h_{t-1} @ W_h, xw = x_t @ W_x (3H,) -> g (3H,) [r, z, n]; hn, h_t (H,)."""
    H = h_t.shape[0]
    for j in range(H):
        r_t = sigmoid(xw[j] + b_x[j] + a[j] + b_h[j])                          # reset gate
        z_t = sigmoid(xw[H + j] + b_x[H + j] + a[H + j] + b_h[H + j])          # update gate
        hn_j = a[2 * H + j] + b_h[2 * H + j]                                   # h_{t-1} W_hn + b_hn
        n_t = tanh(xw[2 * H + j] + b_x[2 * H + j] + r_t * hn_j)                # candidate
        g[j] = r_t
        g[H + j] = z_t
        g[2 * H + j] = n_t
        hn[j] = hn_j
        h_t[j] = n_t + z_t * (h_prev[j] - n_t)                                 # h_t = (1 - z) n + z h_{t-1}


@numba.njit(**JIT)
def _gru_forward_step(a, xw_t, b_x, b_h, h_prev, gates_t, hn_t, h_t):
    """One step's pointwise part.

    a: (B, 3H) h_{t-1} @ W_h;  xw_t: (B, 3H) x_t @ W_x;  b_x, b_h: (3H,);  h_prev: (B, H)
    Out: gates_t (B, 3H) activated [r, z, n]; hn_t (B, H) h_{t-1} W_hn + b_hn; h_t (B, H).
    """
    for b in range(a.shape[0]):
        _gru_forward_row(a[b], xw_t[b], b_x, b_h, h_prev[b], gates_t[b], hn_t[b], h_t[b])


@numba.njit(**JIT_INNER)
def _gru_backward_row(dh_above, has_above, dh_mm, dh_z, g, hn, h_prev, dax, dah, db_x, db_h, one):
    """One batch row. The gradient on h_t is dh_above (when has_above) + dh_mm (the previous step's
    product through W_h, or dh_T) + dh_z (the previous step's direct part, overwritten here with
    this step's dh_t * z_t). Out: dax, dah (3H,), summed into db_x, db_h."""
    H = dh_mm.shape[0]
    for j in range(H):
        dh = dh_mm[j] + dh_z[j]
        if has_above:
            dh += dh_above[j]
        r_t, z_t, n_t = g[j], g[H + j], g[2 * H + j]
        da_n = dh * (one - z_t) * (one - n_t * n_t)             # through (1 - z) n, then tanh'
        dax[j] = da_n * hn[j] * r_t * (one - r_t)               # da_r: through r * hn, then sigmoid'
        dax[H + j] = dh * (h_prev[j] - n_t) * z_t * (one - z_t)  # da_z
        dax[2 * H + j] = da_n
        dah[j] = dax[j]
        dah[H + j] = dax[H + j]
        dah[2 * H + j] = da_n * r_t                             # hn is scaled by r
        dh_z[j] = dh * z_t                                      # direct path to h_{t-1}
    for m in range(3 * H):
        db_x[m] += dax[m]
        db_h[m] += dah[m]


@numba.njit(**JIT)
def _gru_backward_step(dh_above, has_above, dh_mm, dh_z, gates_t, hn_t, h_prev, da_x_t, da_h_t, db_x, db_h, one):
    """One step's pointwise backward.

    dh_above: (B, H) gradient from above on h_t (read only when has_above); dh_mm: (B, H)
    gradient carried through W_h from step t+1; dh_z: (B, H) in: carried direct part, out: dh_t * z_t.
    gates_t: (B, 3H); hn_t, h_prev: (B, H). Out: da_x_t, da_h_t (B, 3H), summed into db_x, db_h (3H,).
    """
    for b in range(dh_mm.shape[0]):
        _gru_backward_row(dh_above[b] if has_above else dh_mm[b], has_above, dh_mm[b], dh_z[b], gates_t[b],
                          hn_t[b], h_prev[b], da_x_t[b], da_h_t[b], db_x, db_h, one)


@numba.njit(**JIT)
def _gru_forward_loop_b1(xw, W_h, b_x, b_h, hs, gates, hn, a):
    """Batch-1 latency path: the whole time loop in one compiled call, h_{t-1} @ W_h by ``simd.vecmat``
    (``simd._product``: no BLAS call, no Python per step). a: (1, 3H) workspace."""
    for t in range(xw.shape[0]):
        a_r = a[0]
        h_prev = hs[t, 0]
        simd.vecmat(h_prev, W_h, a_r)                            # a = h_{t-1} @ W_h
        _gru_forward_row(a_r, xw[t, 0], b_x, b_h, h_prev, gates[t, 0], hn[t, 0], hs[t + 1, 0])


@numba.njit(**JIT)
def _gru_backward_loop_b1(dh_tm, has_above, dh_mm, dh_z, gates, hn, hs, W_hT, da_x, da_h, db_x, db_h, one):
    """Batch-1 BPTT in one compiled call; the part of dh_{t-1} through W_h, da_h_t @ W_h.T, by ``simd.vecmat``
    with W_hT (3H, H)."""
    for t in range(gates.shape[0] - 1, -1, -1):
        _gru_backward_row(dh_tm[t, 0] if has_above else dh_mm[0], has_above, dh_mm[0], dh_z[0], gates[t, 0],
                          hn[t, 0], hs[t, 0], da_x[t, 0], da_h[t, 0], db_x, db_h, one)
        simd.vecmat(da_h[t, 0], W_hT, dh_mm[0])                  # the W_h part of dh_{t-1}: da_h_t @ W_h.T


@numba.njit(**JIT)
def _gru_forward_rows(gemm, vec, x, W_x, W_h, b_x, b_h, x_tm, xw, hs, gates, hn, h_seq, a, bounds, k, one, zero):
    """A GRU layer's whole forward pass for batch rows r0:r1 = bounds[k]:bounds[k + 1], in one compiled call
    (``numba_cpu._forward_rows``'s plan). x: (B, T, D) batch-first; W_x (D, 3H), W_h (H, 3H), b_x, b_h (3H,).
    Fills, for rows r0:r1: x_tm (T, B, D), the cache's time-major copy of x; xw (B, T, 3H) workspace, x_t @ W_x
    for every step as ONE product of the rows' (n T, D) block; then per step a[r0:r1] = h_{t-1} @ W_h (a: (B, 3H)
    workspace) and the gate pass, writing hs (T+1, B, H), gates (T, B, 3H), hn (T, B, H) as ``gru_forward``, and
    h_seq (B, T, H). x, W_x, W_h, xw, hs and a are C-contiguous."""
    T, r0, r1 = x.shape[1], bounds[k], bounds[k + 1]
    rows.project_rows(gemm, x, W_x, x_tm, xw, True, r0, r1, one, zero)              # x_t @ W_x, all t
    for t in range(T):
        rows.step_product(gemm, vec, hs, t, W_h, a, r0, r1, one, zero)              # h_{t-1} @ W_h
        for r in range(r0, r1):
            _gru_forward_row(a[r], xw[r, t], b_x, b_h, hs[t, r], gates[t, r], hn[t, r], hs[t + 1, r])
            rows.copy_row(h_seq[r, t], hs[t + 1, r])


@numba.njit(**JIT)
def _gru_backward_rows(gemm, vec, dh_tm, has_above, dh_mm, dh_z, gates, hn, hs, x_tm, W_x, W_h, W_hT, da_x, da_h,
                       x_bf, h_bf, dx, dW_xs, dW_hs, dbs_x, dbs_h, bounds, k, one, zero):
    """A GRU layer's whole BPTT for batch rows r0:r1 = bounds[k]:bounds[k + 1], in one compiled call
    (``numba_cpu._backward_rows``'s plan).

    Per step (from the last) the gate pass, then dh_mm[r0:r1] = da_h_t @ W_h^T (``simd._product_nt`` with W_h
    when ``vec``, else a gemm with W_hT (3H, H)); then the rows' share of every weight gradient as ONE product
    each over all their steps, and their dx. dh_tm: (T, B, H) gradient from above (read when has_above);
    dh_mm, dh_z (B, H): the carried gradient through W_h and the carried direct part dh_t * z_t (dh_{t-1} is
    their sum); gates, hn, hs, x_tm: the forward's cache. Workspaces: da_x, da_h (B, T, 3H), x_bf (B, T, D),
    h_bf (B, T, H). Out: dx (B, T, D) rows r0:r1; dW_xs[k] (D, 3H), dW_hs[k] (H, 3H), dbs_x[k], dbs_h[k] (3H,) this
    range's sums (overwritten). dh_mm, da_x, da_h, W_x, W_h, W_hT, x_bf, h_bf, dx, dW_xs, dW_hs C-contiguous."""
    T, r0, r1 = gates.shape[0], bounds[k], bounds[k + 1]
    dW_x, dW_h, db_x, db_h = dW_xs[k], dW_hs[k], dbs_x[k], dbs_h[k]
    db_x[:] = 0
    db_h[:] = 0
    for t in range(T - 1, -1, -1):
        for r in range(r0, r1):
            _gru_backward_row(dh_tm[t, r] if has_above else dh_mm[r], has_above, dh_mm[r], dh_z[r], gates[t, r],
                              hn[t, r], hs[t, r], da_x[r, t], da_h[r, t], db_x, db_h, one)
        rows.step_product_t(gemm, vec, da_h, t, W_h, W_hT, dh_mm, r0, r1, one, zero)  # da_h_t @ W_h^T
    rows.weight_products(gemm, x_tm, hs, da_x, da_h, W_x, x_bf, h_bf, dx, dW_x, dW_h, r0, r1, one, zero)


def gru_forward(x, h0, params):
    """Same contract as ``minilstm.core.gru.gru_forward``: x (B, T, D), h0 (B, H) or None ->
    (h_seq (B, T, H), h_T (B, H), cache)."""
    B, T, D, H = check_sequence_inputs(x, {"h0": h0}, params, "gru")
    check_host_arrays(x, "x")
    dt = x.dtype
    W_x, W_h = contiguous_weights(params, dt)                 # compiled code reads raw memory
    b_x, b_h = np.ascontiguousarray(params["b_x"]), np.ascontiguousarray(params["b_h"])
    hs, gates, hn = gru_buffers(initial_states(x, params, h0, None)[0], T, dt)
    gemm = blas._gemm(dt)
    if gemm is not None:                                      # the compiled layer, rows over threads
        nt, vec = threads.loop_threads(B), B <= simd.VECTOR_STEP_MAX_ROWS
        x = np.ascontiguousarray(x)
        x_tm = np.empty((T, B, D), dtype=dt)
        a, xw = scratch("gru_a", (B, 3 * H), dt), scratch("gru_gate_rows", (B, T, 3 * H), dt)       # workspaces
        h_seq = np.empty((B, T, H), dt)
        args = (gemm, vec, x, W_x, W_h, b_x, b_h, x_tm, xw, hs, gates, hn, h_seq, a)
        rows.run_rows(_gru_forward_rows, rows.forward_ranges, args, (), B, H, 3, nt, vec, dt)
        return h_seq, hs[-1].copy(), dict(zip(GRU_CACHE_KEYS, (x_tm, hs, gates, hn, params)))
    x_tm, xw = project_inputs(x, W_x)                        # one product for all steps; b_x added in the gate pass
    a = np.empty((B, 3 * H), dtype=dt)                       # workspace, reused every step
    check_contract("gru_forward", {"xw": (xw, (T, B, 3 * H)), "b_x": (b_x, (3 * H,)), "b_h": (b_h, (3 * H,)),
                                   "hs": (hs, (T + 1, B, H)), "gates": (gates, (T, B, 3 * H)), "hn": (hn, (T, B, H))})
    if B == 1:
        _gru_forward_loop_b1(xw, W_h, b_x, b_h, hs, gates, hn, a)
    else:                                                     # NumPy's gemm not reachable: the loop in Python
        with threads.step_blas_threads(B, H, gates=3):
            for t in range(T):
                np.matmul(hs[t], W_h, out=a)                 # h_{t-1} @ W_h
                _gru_forward_step(a, xw[t], b_x, b_h, hs[t], gates[t], hn[t], hs[t + 1])
    return gru_outputs(x_tm, hs, gates, hn, params)


def gru_backward(dh_seq, dh_T, cache):
    """Same contract as ``minilstm.core.gru.gru_backward``: returns (dx, dh0, dparams)."""
    T, B, D, H = check_sequence_backward_args(dh_seq, {"dh_T": dh_T}, cache, "gru")
    check_host_arrays(cache["x_tm"], "cache['x_tm']", dh_seq=dh_seq, dh_T=dh_T)
    x_tm, hs, gates, hn, params = (cache[k] for k in GRU_CACHE_KEYS)
    x_tm, hs, gates, hn = (np.ascontiguousarray(a) for a in (x_tm, hs, gates, hn))   # raw reads below
    dt = x_tm.dtype
    W_x, W_h = contiguous_weights(params, dt)
    dh_mm = carried_gradients(dh_T, None, like=hs[0])[0]     # the carried gradient starts as dh_T
    dh_z = np.zeros((B, H), dtype=dt)
    has_above = dh_seq is not None
    dh_tm = np.ascontiguousarray(dh_seq.transpose(1, 0, 2), dtype=dt) if has_above else np.zeros((1, 1, 1), dt)
    one, G = dt.type(1), 3 * H
    gemm, vec = blas._gemm(dt), B <= simd.VECTOR_STEP_MAX_ROWS
    W_hT = rows.backward_weights(W_h, gemm, vec)             # W_h itself for simd, else W_h.T
    if gemm is not None:                                     # the compiled layer, rows over threads
        nt = threads.loop_threads(B)
        # workspaces; da_x takes the buffer the forward's xw had (one (B, T, 3H) array per thread, not two)
        da_x, da_h = scratch("gru_gate_rows", (B, T, G), dt), scratch("gru_da_h", (B, T, G), dt)
        x_bf, h_bf = scratch("gru_x_bf", (B, T, D), dt), scratch("gru_h_bf", (B, T, H), dt)
        dx = np.empty((B, T, D), dtype=dt)
        dW_xs, dW_hs = np.empty((nt, D, G), dt), np.empty((nt, H, G), dt)
        dbs_x, dbs_h = np.empty((nt, G), dt), np.empty((nt, G), dt)
        args = (gemm, vec, dh_tm, has_above, dh_mm, dh_z, gates, hn, hs, x_tm, W_x, W_h, W_hT, da_x, da_h, x_bf,
                h_bf, dx)
        compile_ahead.wait()          # an LSTM's helper may be compiling the backward driver this one shares
        rows.run_rows(_gru_backward_rows, rows.backward_ranges, args, (dW_xs, dW_hs, dbs_x, dbs_h), B, H, 3, nt,
                      vec, dt)
        if nt == 1:
            dparams = {"W_x": dW_xs[0], "W_h": dW_hs[0], "b_x": dbs_x[0], "b_h": dbs_h[0]}
        else:
            dparams = {"W_x": rows.sum_ranges(dW_xs), "W_h": rows.sum_ranges(dW_hs),
                       "b_x": rows.sum_ranges(dbs_x), "b_h": rows.sum_ranges(dbs_h)}
        return dx, dh_mm + dh_z, dparams
    da_x, da_h = np.empty((T, B, G), dtype=dt), np.empty((T, B, G), dtype=dt)
    db_x, db_h = np.zeros(G, dtype=dt), np.zeros(G, dtype=dt)   # filled by the gate pass
    if B == 1:
        _gru_backward_loop_b1(dh_tm, has_above, dh_mm, dh_z, gates, hn, hs, W_hT, da_x, da_h, db_x, db_h, one)
    else:                                                     # NumPy's gemm not reachable: the loop in Python
        with threads.step_blas_threads(B, H, gates=3):
            for t in range(T - 1, -1, -1):
                _gru_backward_step(dh_tm[t] if has_above else dh_mm, has_above, dh_mm, dh_z, gates[t], hn[t], hs[t],
                                   da_x[t], da_h[t], db_x, db_h, one)
                np.matmul(da_h[t], W_hT, out=dh_mm)          # the part of dh_{t-1} through W_h
    dx, dparams = gru_weights_backward(da_x, da_h, x_tm, hs, W_x)
    dparams["b_x"], dparams["b_h"] = db_x, db_h                        # as the gate pass summed them
    return dx, dh_mm + dh_z, dparams
