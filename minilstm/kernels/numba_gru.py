"""Fused CPU kernels (Numba) for the GRU: the same ``gru_forward``/``gru_backward`` as ``minilstm.gru``.

The plan is the LSTM kernels' (``minilstm.kernels.numba_cpu``): per step one BLAS product
through NumPy (``h_{t-1} @ W_h`` into a preallocated buffer) and ONE compiled pass that adds
both biases, applies the gate nonlinearities and writes h_t; the backward step is one pass
for all gate derivatives (both bias gradients summed there), then one product for the part
of dh_{t-1} that goes through W_h. The direct part dh_t * z_t is carried to the next pass,
which adds it, so no extra elementwise pass is made. With batch 1 the whole time loop is one
compiled call with a hand-written vector-matrix product (the LSTM kernels' latency path). The input projection before the loop
and the weight gradients after it are single products over all time steps, as in the reference.
The scalar ``sigmoid``/``tanh`` are the LSTM kernels' (in float64 a polynomial exp within 4 ulp of libm,
in float32 a vectorizable rational tanh).

Cache contents and results are the reference's, so the two can be mixed and compared.
Every entry checks its arguments first (``minilstm.gru``'s checks, then the kernels' size
contract): a compiled loop that reads past an array is a crash, not an error.
"""
import numba
import numpy as np

from ..core.common import carried_gradients, initial_states
from ..core.gru import GRU_CACHE_KEYS, gru_buffers, gru_outputs, gru_weights_backward
from ..validate import check_sequence_backward_args, check_sequence_inputs
from . import check_contract, check_host_arrays, project_inputs, simd
from .math import JIT, sigmoid, tanh


@numba.njit(**JIT)
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


@numba.njit(**JIT)
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
    (``simd.product``: no BLAS call, no Python per step). a: (1, 3H) workspace."""
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


def gru_forward(x, h0, params):
    """Same contract as ``minilstm.gru.gru_forward``: x (B, T, D), h0 (B, H) or None ->
    (h_seq (B, T, H), h_T (B, H), cache)."""
    B, T, D, H = check_sequence_inputs(x, {"h0": h0}, params, "gru")
    check_host_arrays(x, "x")
    W_x, W_h = params["W_x"], params["W_h"]
    b_x, b_h = np.ascontiguousarray(params["b_x"]), np.ascontiguousarray(params["b_h"])
    x_tm, xw = project_inputs(x, W_x)                      # one product for all steps; b_x added in the gate pass
    h0 = initial_states(x, params, h0, None)[0]
    hs, gates, hn = gru_buffers(h0, T, x.dtype)
    a = np.empty((B, 3 * H), dtype=x.dtype)                  # workspace, reused every step
    check_contract("gru_forward", {"xw": (xw, (T, B, 3 * H)), "b_x": (b_x, (3 * H,)), "b_h": (b_h, (3 * H,)),
                                   "hs": (hs, (T + 1, B, H)), "gates": (gates, (T, B, 3 * H)), "hn": (hn, (T, B, H))})
    if B == 1:
        W_h = np.ascontiguousarray(W_h)
        check_contract("gru_forward", {"W_h": (W_h, (H, 3 * H)), "a": (a, (1, 3 * H))})
        _gru_forward_loop_b1(xw, W_h, b_x, b_h, hs, gates, hn, a)
    else:
        for t in range(T):
            np.matmul(hs[t], W_h, out=a)                     # h_{t-1} @ W_h
            _gru_forward_step(a, xw[t], b_x, b_h, hs[t], gates[t], hn[t], hs[t + 1])
    return gru_outputs(x_tm, hs, gates, hn, params)


def gru_backward(dh_seq, dh_T, cache):
    """Same contract as ``minilstm.gru.gru_backward``: returns (dx, dh0, dparams)."""
    T, B, D, H = check_sequence_backward_args(dh_seq, {"dh_T": dh_T}, cache, "gru")
    check_host_arrays(cache["x_tm"], "cache['x_tm']", dh_seq=dh_seq, dh_T=dh_T)
    x_tm, hs, gates, hn, params = (cache[k] for k in GRU_CACHE_KEYS)
    dt = x_tm.dtype
    dh_mm = carried_gradients(dh_T, None, like=hs[0])[0]     # the carried gradient starts as dh_T
    dh_z = np.zeros((B, H), dtype=dt)
    has_above = dh_seq is not None
    dh_tm = np.ascontiguousarray(dh_seq.transpose(1, 0, 2), dtype=dt) if has_above else None
    W_hT = np.ascontiguousarray(params["W_h"].T)
    da_x, da_h = np.empty((T, B, 3 * H), dtype=dt), np.empty((T, B, 3 * H), dtype=dt)
    db_x, db_h = np.zeros(3 * H, dtype=dt), np.zeros(3 * H, dtype=dt)   # filled by the gate pass
    one = dt.type(1)
    check_contract("gru_backward", {"gates": (gates, (T, B, 3 * H)), "hn": (hn, (T, B, H)), "hs": (hs, (T + 1, B, H)),
                                    "dh_mm": (dh_mm, (B, H)), "W_hT": (W_hT, (3 * H, H))})
    if B == 1:
        seq = dh_tm if has_above else np.zeros((1, 1, 1), dt)
        if has_above:
            check_contract("gru_backward", {"dh_seq": (seq, (T, 1, H))})
        _gru_backward_loop_b1(seq, has_above, dh_mm, dh_z, gates, hn, hs, W_hT, da_x, da_h, db_x, db_h, one)
    else:
        for t in range(T - 1, -1, -1):
            _gru_backward_step(dh_tm[t] if has_above else dh_mm, has_above, dh_mm, dh_z, gates[t], hn[t], hs[t],
                               da_x[t], da_h[t], db_x, db_h, one)
            np.matmul(da_h[t], W_hT, out=dh_mm)              # the part of dh_{t-1} through W_h
    dx, dparams = gru_weights_backward(da_x, da_h, x_tm, hs, params["W_x"], db_x=db_x, db_h=db_h)
    return dx, dh_mm + dh_z, dparams
