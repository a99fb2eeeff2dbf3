r"""The LSTM equations as pure functions: the reference implementation.

Notation (one layer; batch B, time T, input size D, hidden size H)::

    f_t  = sigmoid(W_f . [h_{t-1}, x_t] + b_f)     # forget gate
    i_t  = sigmoid(W_i . [h_{t-1}, x_t] + b_i)     # input gate
    c~_t = tanh(W_C . [h_{t-1}, x_t] + b_C)        # candidate cell state
    C_t  = f_t * C_{t-1} + i_t * c~_t              # cell state
    o_t  = sigmoid(W_o . [h_{t-1}, x_t] + b_o)     # output gate
    h_t  = o_t * tanh(C_t)                         # hidden state

Stored layout. The four gate matrices W_f, W_i, W_C, W_o (each H x (H + D),
acting on the column vector [h_{t-1}, x_t]) are stored transposed and split
into the part that multiplies h and the part that multiplies x, with the gates
side by side along the last axis in the order f, i, c~, o (``GATES``)::

    W_h : (H, 4H)   W_h[:, F] = W_f[:, :H].T, W_h[:, I] = W_i[:, :H].T, ...
    W_x : (D, 4H)   W_x[:, F] = W_f[:, H:].T, ...
    b   : (4H,)     b[F] = b_f, b[I] = b_i, b[G] = b_C, b[O] = b_o

so for a batch of row vectors ``a_t = x_t @ W_x + h_{t-1} @ W_h + b`` holds
all four pre-activations, and ``a_t[:, F] = (W_f . [h_{t-1}, x_t] + b_f).T``.
Row vectors let the input projection of every time step be one matrix
product, and every weight gradient one product over all steps.

All functions are pure: they never modify their arguments. They take the
array module from their inputs, so the same code runs on NumPy and CuPy. Each checks its
arguments first (``minilstm.validate``, the same checks as the GRU's).
"""
from ..backend import get_array_module
from ..validate import (
    check_gate_axis,
    check_pointwise,
    check_sequence_backward_args,
    check_sequence_inputs,
    check_step_backward_args,
    check_step_inputs,
)
from .common import carried_gradients, initial_states, input_projection, sigmoid

GATES = ("f", "i", "c_tilde", "o")  # order of the gate blocks along the 4H axis


def gate_slices(H):
    """Named slices of the 4H axis: ``F, I, G, O`` for f, i, c~ (candidate), o."""
    return slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H), slice(3 * H, 4 * H)


def activate_gates(a):
    """Apply the gate nonlinearities to pre-activations.

    a: (..., 4H) pre-activations in the order f, i, c~, o.
    Returns a new (..., 4H) array: sigmoid on f, i, o; tanh on c~.
    """
    check_gate_axis(a, "a", "lstm")
    xp = get_array_module(a)
    H = a.shape[-1] // 4
    F, I, G, O = gate_slices(H)
    g = sigmoid(a)
    g[..., G] = xp.tanh(a[..., G])
    return g


def gates_backward(dh, dc_next, gates, c_prev, tanh_c):
    """Backward of the pointwise part of one step (the gates and the cell update).

    dh:      (B, H) gradient reaching h_t (from above and from step t+1)
    dc_next: (B, H) gradient reaching C_t from step t+1
    gates:   (B, 4H) activated gates [f, i, c~, o] of step t
    c_prev:  (B, H) C_{t-1};   tanh_c: (B, H) tanh(C_t)
    Returns (da, dc_prev): da (B, 4H) gradient of the pre-activations, dc_prev (B, H).
    """
    check_pointwise({"gates": gates}, {"dh": dh, "dc_next": dc_next, "c_prev": c_prev, "tanh_c": tanh_c}, "lstm")
    xp = get_array_module(gates)
    H = dh.shape[-1]
    F, I, G, O = gate_slices(H)
    f_t, i_t, c_tilde, o_t = gates[:, F], gates[:, I], gates[:, G], gates[:, O]
    # h_t = o_t * tanh(C_t): C_t receives the carried dc plus the path through h_t.
    dC = dc_next + dh * o_t * (1.0 - tanh_c * tanh_c)
    do = dh * tanh_c
    # C_t = f_t * C_{t-1} + i_t * c~_t
    df = dC * c_prev
    di = dC * c_tilde
    dc_tilde = dC * i_t
    dc_prev = dC * f_t
    # through the nonlinearities, from the cached activations: sigmoid' = s(1-s), tanh' = 1-t^2
    da = xp.empty_like(gates)
    da[:, F] = df * f_t * (1.0 - f_t)
    da[:, I] = di * i_t * (1.0 - i_t)
    da[:, G] = dc_tilde * (1.0 - c_tilde * c_tilde)
    da[:, O] = do * o_t * (1.0 - o_t)
    return da, dc_prev


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One time step of one layer.

    x_t: (B, D) input;  h_prev: (B, H) h_{t-1};  c_prev: (B, H) C_{t-1}
    params: dict with W_x (D, 4H), W_h (H, 4H), b (4H,)
    Returns (h_t, c_t, cache): h_t (B, H), c_t (B, H), cache for ``lstm_step_backward``.
    """
    check_step_inputs(x_t, {"h_prev": h_prev, "c_prev": c_prev}, params, "lstm")
    xp = get_array_module(x_t, h_prev)
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    H = W_h.shape[0]
    F, I, G, O = gate_slices(H)
    a = x_t @ W_x + h_prev @ W_h + b          # (B, 4H): W . [h_{t-1}, x_t] + b for all gates
    gates = activate_gates(a)
    f_t, i_t, c_tilde, o_t = gates[:, F], gates[:, I], gates[:, G], gates[:, O]
    c_t = f_t * c_prev + i_t * c_tilde        # C_t = f_t * C_{t-1} + i_t * c~_t
    tanh_c = xp.tanh(c_t)
    h_t = o_t * tanh_c                        # h_t = o_t * tanh(C_t)
    cache = (x_t, h_prev, c_prev, gates, tanh_c, params)
    return h_t, c_t, cache


def lstm_step_backward(dh_t, dc_t, cache):
    """Backward of ``lstm_step_forward``.

    dh_t: (B, H) dL/dh_t;  dc_t: (B, H) dL/dC_t arriving from later steps
    Returns (dx_t, dh_prev, dc_prev, dparams): (B, D), (B, H), (B, H) and a dict
    with dW_x (D, 4H), dW_h (H, 4H), db (4H,) under the keys of ``params``.
    """
    check_step_backward_args({"dh_t": dh_t, "dc_t": dc_t}, cache, "lstm")
    x_t, h_prev, c_prev, gates, tanh_c, params = cache
    da, dc_prev = gates_backward(dh_t, dc_t, gates, c_prev, tanh_c)
    dx_t = da @ params["W_x"].T
    dh_prev = da @ params["W_h"].T
    dparams = {"W_x": x_t.T @ da, "W_h": h_prev.T @ da, "b": da.sum(axis=0)}
    return dx_t, dh_prev, dc_prev, dparams


CACHE_KEYS = ("x_tm", "hs", "cs", "gates", "tanh_c", "params")   # lstm_forward's cache


def sequence_buffers(h0, c0, T, dtype):
    """Storage for one layer's forward over T steps, shared by the reference and the kernels.

    h0, c0: (B, H); dtype: that of x. Returns hs, cs (T+1, B, H) with hs[0] = h0, cs[0] = c0 (hs[t+1] will be h_t),
    gates (T, B, 4H) for the activated gates, tanh_c (T, B, H) for tanh(C_t).
    """
    xp = get_array_module(h0)
    B, H = h0.shape
    hs, cs = xp.empty((T + 1, B, H), dtype=dtype), xp.empty((T + 1, B, H), dtype=dtype)
    hs[0], cs[0] = h0, c0
    return hs, cs, xp.empty((T, B, 4 * H), dtype=dtype), xp.empty((T, B, H), dtype=dtype)


def sequence_outputs(x_tm, hs, cs, gates, tanh_c, params):
    """(h_seq (B, T, H) batch-first copy, (h_T, c_T), cache) from a filled forward."""
    cache = dict(zip(CACHE_KEYS, (x_tm, hs, cs, gates, tanh_c, params)))
    return hs[1:].transpose(1, 0, 2).copy(), (hs[-1].copy(), cs[-1].copy()), cache


def weights_backward(da, x_tm, hs, W_x):
    """Every weight gradient, and dx, as ONE matrix product over all steps.

    da: (T, B, 4H) gradients of the pre-activations; x_tm: (T, B, D); hs: (T+1, B, H) with hs[t] = h_{t-1}.
    Returns (dx (B, T, D), {"W_x": (D, 4H), "W_h": (H, 4H), "b": (4H,)}).
    """
    xp = get_array_module(da)
    T, B, D = x_tm.shape
    H = hs.shape[-1]
    da2 = da.reshape(T * B, 4 * H)
    dparams = {"W_x": x_tm.reshape(T * B, D).T @ da2,        # sum_t x_t^T da_t
               "W_h": hs[:-1].reshape(T * B, H).T @ da2,     # sum_t h_{t-1}^T da_t
               "b": da2.sum(axis=0)}
    dx = xp.ascontiguousarray((da2 @ W_x.T).reshape(T, B, D).transpose(1, 0, 2))
    return dx, dparams


def lstm_forward(x, h0, c0, params):
    """A whole sequence through one layer.

    x: (B, T, D) batch-first input;  h0, c0: (B, H) initial states (None: zeros)
    params: dict with W_x (D, 4H), W_h (H, 4H), b (4H,)
    Returns (h_seq, (h_T, c_T), cache): h_seq (B, T, H) all hidden states,
    h_T, c_T (B, H) the final states; ``gate_activations(cache)`` gives f, i, c~, o, C, h.
    """
    check_sequence_inputs(x, {"h0": h0, "c0": c0}, params, "lstm")
    xp = get_array_module(x)
    h0, c0 = initial_states(x, params, h0, c0)
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T = x.shape[1]
    F, I, G, O = gate_slices(W_h.shape[0])
    x_tm, xw = input_projection(x, W_x, b)                     # (T, B, D), (T, B, 4H): one product
    hs, cs, gates, tanh_c = sequence_buffers(h0, c0, T, x.dtype)     # hs[t+1] = h_t, hs[0] = h0; same for cs
    for t in range(T):
        gates[t] = activate_gates(xw[t] + hs[t] @ W_h)
        f_t, i_t, c_tilde, o_t = gates[t, :, F], gates[t, :, I], gates[t, :, G], gates[t, :, O]
        cs[t + 1] = f_t * cs[t] + i_t * c_tilde               # C_t = f_t * C_{t-1} + i_t * c~_t
        tanh_c[t] = xp.tanh(cs[t + 1])
        hs[t + 1] = o_t * tanh_c[t]                           # h_t = o_t * tanh(C_t)
    return sequence_outputs(x_tm, hs, cs, gates, tanh_c, params)


def lstm_backward(dh_seq, dh_T, dc_T, cache):
    """Backpropagation through time for ``lstm_forward``.

    dh_seq: (B, T, H) gradient on every output h_t (None for zeros)
    dh_T, dc_T: (B, H) gradient on the final states (None for zeros)
    Returns (dx, dh0, dc0, dparams): dx (B, T, D), dh0 and dc0 (B, H), and
    dparams with W_x (D, 4H), W_h (H, 4H), b (4H,).
    """
    check_sequence_backward_args(dh_seq, {"dh_T": dh_T, "dc_T": dc_T}, cache, "lstm")
    x_tm, hs, cs, gates, tanh_c, params = (cache[k] for k in CACHE_KEYS)
    xp = get_array_module(x_tm)
    W_x, W_h = params["W_x"], params["W_h"]
    T = x_tm.shape[0]
    dh_next, dc_next = carried_gradients(dh_T, dc_T, like=hs[0])     # carried dh and dc
    dh_tm = None if dh_seq is None else dh_seq.transpose(1, 0, 2)
    da = xp.empty_like(gates)
    for t in reversed(range(T)):
        dh = dh_next if dh_tm is None else dh_tm[t] + dh_next   # from above + from step t+1
        da[t], dc_next = gates_backward(dh, dc_next, gates[t], cs[t], tanh_c[t])
        dh_next = da[t] @ W_h.T
    dx, dparams = weights_backward(da, x_tm, hs, W_x)         # all steps at once
    return dx, dh_next, dc_next, dparams


def gate_activations(cache):
    """The gate activations of a ``lstm_forward`` cache, batch-first, for plots.

    Returns a dict f, i, c_tilde, o, C, h, each (B, T, H).
    """
    gates = cache["gates"]
    H = gates.shape[-1] // 4
    out = {name: gates[:, :, s].transpose(1, 0, 2) for name, s in zip(GATES, gate_slices(H))}
    out["C"] = cache["cs"][1:].transpose(1, 0, 2)
    out["h"] = cache["hs"][1:].transpose(1, 0, 2)
    return out
