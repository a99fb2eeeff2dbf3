"""Fused CPU kernels (Numba): the same ``lstm_forward``/``lstm_backward`` as ``minilstm.core``.

What is fused. The reference issues, per time step, one matrix product and then
about a dozen NumPy elementwise passes (each a full read and write of a (B, 4H)
or (B, H) array, plus a temporary). Here the whole time loop is one compiled
function: per step one BLAS product ``h_{t-1} @ W_h`` (``np.dot`` into a
preallocated buffer) and then ONE pass over memory that applies the gate
nonlinearities, updates C_t and writes h_t. The backward mirrors it: one pass
computes all four gate derivatives and the carried dC, then one product gives
the carried dh. The input projection before the loop and the weight gradients
after it are single large matrix products over all steps (NumPy/BLAS), exactly
as in the reference.

Cache contents and results are the reference's, so the two can be mixed and
compared. Compiled functions are cached on disk (``cache=True``): the JIT cost
is paid once per machine and Numba version.
"""
import math

import numba
import numpy as np

_JIT = dict(cache=True, error_model="numpy", nogil=True)


@numba.njit(**_JIT)
def _sigmoid(x, one, half):
    # stable for any x, as in core.sigmoid: z = exp(-|x|) never overflows
    z = math.exp(-abs(x))
    return (one if x >= 0 else z) / (one + z)


@numba.njit(**_JIT)
def _forward_loop(xw, W_h, hs, cs, gates, tanh_c, one, half):
    """xw (T, B, 4H) input projections + b; W_h (H, 4H); hs, cs (T+1, B, H) with hs[0], cs[0] set;
    gates (T, B, 4H), tanh_c (T, B, H) are filled. The constants carry the dtype (no float64 promotion)."""
    T, B, H4 = xw.shape
    H = H4 // 4
    for t in range(T):
        a = gates[t]
        np.dot(hs[t], W_h, a)                       # a = h_{t-1} @ W_h (BLAS, into the gates buffer)
        for b in range(B):
            a_b, x_b, c_prev, c_new, h_new, tc = a[b], xw[t, b], cs[t, b], cs[t + 1, b], hs[t + 1, b], tanh_c[t, b]
            for j in range(H):
                f_t = _sigmoid(a_b[j] + x_b[j], one, half)                    # forget gate
                i_t = _sigmoid(a_b[H + j] + x_b[H + j], one, half)            # input gate
                c_tilde = math.tanh(a_b[2 * H + j] + x_b[2 * H + j])          # candidate
                o_t = _sigmoid(a_b[3 * H + j] + x_b[3 * H + j], one, half)    # output gate
                C_t = f_t * c_prev[j] + i_t * c_tilde                         # C_t = f*C_{t-1} + i*c~
                th = math.tanh(C_t)
                a_b[j], a_b[H + j], a_b[2 * H + j], a_b[3 * H + j] = f_t, i_t, c_tilde, o_t
                c_new[j] = C_t
                tc[j] = th
                h_new[j] = o_t * th                                           # h_t = o * tanh(C_t)


@numba.njit(**_JIT)
def _backward_loop(dh_seq_tm, has_dh_seq, dh_next, dc_next, gates, cs, tanh_c, W_hT, da, one):
    """BPTT over the pointwise part. dh_seq_tm (T, B, H) time-major (ignored unless has_dh_seq);
    dh_next, dc_next (B, H) carried gradients, updated in place and returned as dh0, dc0;
    gates (T, B, 4H); cs (T+1, B, H); tanh_c (T, B, H); W_hT (4H, H) contiguous; da (T, B, 4H) filled."""
    T, B, H4 = gates.shape
    H = H4 // 4
    for t in range(T - 1, -1, -1):
        for b in range(B):
            g, d, c_prev, tc, dhn, dcn = gates[t, b], da[t, b], cs[t, b], tanh_c[t, b], dh_next[b], dc_next[b]
            for j in range(H):
                dh = dhn[j] + dh_seq_tm[t, b, j] if has_dh_seq else dhn[j]
                f_t, i_t, c_tilde, o_t, th = g[j], g[H + j], g[2 * H + j], g[3 * H + j], tc[j]
                dC = dcn[j] + dh * o_t * (one - th * th)    # carried dC + path through h_t
                d[j] = dC * c_prev[j] * f_t * (one - f_t)               # da_f
                d[H + j] = dC * c_tilde * i_t * (one - i_t)             # da_i
                d[2 * H + j] = dC * i_t * (one - c_tilde * c_tilde)     # da_c~
                d[3 * H + j] = dh * th * o_t * (one - o_t)              # da_o
                dcn[j] = dC * f_t                                       # dC_{t-1}
        np.dot(da[t], W_hT, dh_next)                                    # dh_{t-1} = da_t @ W_h.T


def lstm_forward(x, h0, c0, params):
    """Same contract as ``minilstm.core.lstm_forward``: x (B, T, D), h0, c0 (B, H) ->
    (h_seq (B, T, H), (h_T, c_T), cache)."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    B, T, D = x.shape
    H = W_h.shape[0]
    dt = x.dtype
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))
    xw = (x_tm.reshape(T * B, D) @ W_x + b).reshape(T, B, 4 * H)     # one product for all steps
    hs = np.empty((T + 1, B, H), dtype=dt)
    cs = np.empty((T + 1, B, H), dtype=dt)
    gates = np.empty((T, B, 4 * H), dtype=dt)
    tanh_c = np.empty((T, B, H), dtype=dt)
    hs[0], cs[0] = h0, c0
    _forward_loop(xw, np.ascontiguousarray(W_h), hs, cs, gates, tanh_c, dt.type(1), dt.type(0.5))
    cache = {"x_tm": x_tm, "hs": hs, "cs": cs, "gates": gates, "tanh_c": tanh_c, "params": params}
    return hs[1:].transpose(1, 0, 2).copy(), (hs[T].copy(), cs[T].copy()), cache


def lstm_backward(dh_seq, dh_T, dc_T, cache):
    """Same contract as ``minilstm.core.lstm_backward``: returns (dx, dh0, dc0, dparams)."""
    x_tm, hs, cs, gates, tanh_c, params = (cache[k] for k in ("x_tm", "hs", "cs", "gates", "tanh_c", "params"))
    W_x, W_h = params["W_x"], params["W_h"]
    T, B, D = x_tm.shape
    H = W_h.shape[0]
    dt = x_tm.dtype
    dh_next = np.zeros((B, H), dt) if dh_T is None else np.array(dh_T, dtype=dt)
    dc_next = np.zeros((B, H), dt) if dc_T is None else np.array(dc_T, dtype=dt)
    has = dh_seq is not None
    dh_tm = np.ascontiguousarray(dh_seq.transpose(1, 0, 2), dtype=dt) if has else np.zeros((1, 1, 1), dt)
    da = np.empty((T, B, 4 * H), dtype=dt)
    _backward_loop(dh_tm, has, dh_next, dc_next, gates, cs, tanh_c, np.ascontiguousarray(W_h.T), da, dt.type(1))
    da2 = da.reshape(T * B, 4 * H)
    dparams = {"W_x": x_tm.reshape(T * B, D).T @ da2, "W_h": hs[:-1].reshape(T * B, H).T @ da2,
               "b": da2.sum(axis=0)}
    dx = np.ascontiguousarray((da2 @ W_x.T).reshape(T, B, D).transpose(1, 0, 2))
    return dx, dh_next, dc_next, dparams
