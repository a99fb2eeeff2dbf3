r"""The GRU equations as pure functions: the reference implementation of the gated recurrent unit.

Notation (one layer; batch B, time T, input size D, hidden size H), in the form
PyTorch (``torch.nn.GRU``) and cuDNN use::

    r_t = sigmoid(x_t W_xr + b_xr + h_{t-1} W_hr + b_hr)        # reset gate
    z_t = sigmoid(x_t W_xz + b_xz + h_{t-1} W_hz + b_hz)        # update gate
    n_t = tanh(x_t W_xn + b_xn + r_t * (h_{t-1} W_hn + b_hn))   # candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                       # hidden state

Cho et al. (2014) wrote the candidate with the reset gate applied BEFORE the
product (column vectors, their names W, U for the input and hidden weights)::

    r_t = sigmoid(W_r x_t + U_r h_{t-1})
    z_t = sigmoid(W_z x_t + U_z h_{t-1})
    n_t = tanh(W x_t + U (r_t * h_{t-1}))                       # r_t inside the product
    h_t = z_t * h_{t-1} + (1 - z_t) * n_t

Why this form. Every matrix product here takes an unmodified input, so the products
are as few and as wide as they can be: ``x_t @ W_x`` for all three gates and ALL time
steps is one (T*B, D) x (D, 3H) product before the loop (the input side allows this in
both forms), and ``h_{t-1} @ W_h`` for all three gates is ONE (B, H) x (H, 3H) product
per step, because r_t is applied to its result. In Cho's form the candidate's hidden
product needs r_t first, so each step makes two dependent products, and dU needs
(r_t * h_{t-1}) stored for every step. Here dW_x and dW_h are each one product over
all steps, exactly as for the LSTM. The price:
r_t multiplies ``h_{t-1} W_hn + b_hn``, so the hidden bias of the candidate
``b_hn`` can NOT be merged with ``b_xn`` (the r and z biases could; they are kept
as two vectors, like PyTorch's ``bias_ih``/``bias_hh``, so interop is exact).

Stored layout (like the LSTM's in ``minilstm.core.lstm``: transposed weights for row
vectors, gates side by side on the last axis), gate blocks in the order r, z, n
(``GRU_GATES``, also PyTorch's order)::

    W_x : (D, 3H)   W_x[:, R] = W_xr, W_x[:, Z] = W_xz, W_x[:, N] = W_xn
    W_h : (H, 3H)   W_h[:, R] = W_hr, ...
    b_x : (3H,)     b_x[R] = b_xr, b_x[Z] = b_xz, b_x[N] = b_xn
    b_h : (3H,)     b_h[R] = b_hr, b_h[Z] = b_hz, b_h[N] = b_hn

so ``x_t @ W_x + b_x`` and ``h_{t-1} @ W_h + b_h`` hold the two halves of every
pre-activation. Parameters per layer: 3H(D + H + 2), against the LSTM's 4H(D + H + 1).

Backward of one step, from the cached activations r, z, n and hn = h_{t-1} W_hn + b_hn::

    dn  = dh_t * (1 - z_t)             dz = dh_t * (h_{t-1} - n_t)
    da_n = dn * (1 - n_t^2)            (pre-activation of n: its x part and b_xn)
    da_r = da_n * hn * r_t (1 - r_t)   da_z = dz * z_t (1 - z_t)
    x side: [da_r, da_z, da_n]         h side: [da_r, da_z, da_n * r_t]
    dh_{t-1} = dh_t * z_t + (h side) @ W_h.T

Conventions as in ``minilstm.core.lstm``: pure functions on the array module of their inputs (NumPy or CuPy),
each checking its arguments first with the checks both cells share (``minilstm.validate``).
"""
from ..backend import get_array_module
from ..validate import (
    check_pointwise,
    check_sequence_backward_args,
    check_sequence_inputs,
    check_step_backward_args,
    check_step_inputs,
)
from .common import carried_gradients, initial_states, input_projection, sigmoid

GRU_GATES = ("r", "z", "n")  # order of the gate blocks along the 3H axis
GRU_PARAMS = ("W_x", "W_h", "b_x", "b_h")
GRU_CACHE_KEYS = ("x_tm", "hs", "gates", "hn", "params")


def gru_gate_slices(H):
    """Named slices of the 3H axis: ``R, Z, N`` for the reset gate, update gate and candidate."""
    return slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)


def gru_gates_forward(xw_t, hw_t, h_prev):
    """The pointwise part of one step.

    xw_t: (B, 3H) x_t @ W_x + b_x;  hw_t: (B, 3H) h_{t-1} @ W_h + b_h;  h_prev: (B, H) h_{t-1}
    Returns (h_t (B, H), gates (B, 3H) activated [r, z, n], hn (B, H) = h_{t-1} W_hn + b_hn).
    """
    check_pointwise({"xw_t": xw_t, "hw_t": hw_t}, {"h_prev": h_prev}, "gru")
    xp = get_array_module(xw_t, hw_t)
    H = h_prev.shape[-1]
    R, Z, N = gru_gate_slices(H)
    gates = xp.empty_like(xw_t)
    gates[:, R] = r_t = sigmoid(xw_t[:, R] + hw_t[:, R])      # r_t = sigmoid(x W_xr + b_xr + h W_hr + b_hr)
    gates[:, Z] = z_t = sigmoid(xw_t[:, Z] + hw_t[:, Z])      # z_t = sigmoid(x W_xz + b_xz + h W_hz + b_hz)
    hn = hw_t[:, N].copy()                                    # h_{t-1} W_hn + b_hn
    gates[:, N] = n_t = xp.tanh(xw_t[:, N] + r_t * hn)        # n_t = tanh(x W_xn + b_xn + r_t * (h W_hn + b_hn))
    h_t = (1.0 - z_t) * n_t + z_t * h_prev                    # h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    return h_t, gates, hn


def gru_gates_backward(dh, gates, hn, h_prev):
    """Backward of ``gru_gates_forward``.

    dh: (B, H) total gradient reaching h_t;  gates: (B, 3H) [r, z, n];  hn: (B, H);  h_prev: (B, H)
    Returns (da_x, da_h, dh_z): da_x (B, 3H) gradient of x_t @ W_x + b_x, da_h (B, 3H) gradient of
    h_{t-1} @ W_h + b_h, and dh_z (B, H) = dh * z_t, the direct part of dh_{t-1} (the caller adds da_h @ W_h.T).
    """
    check_pointwise({"gates": gates}, {"dh": dh, "hn": hn, "h_prev": h_prev}, "gru")
    xp = get_array_module(gates)
    H = dh.shape[-1]
    R, Z, N = gru_gate_slices(H)
    r_t, z_t, n_t = gates[:, R], gates[:, Z], gates[:, N]
    # h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    dn = dh * (1.0 - z_t)
    dz = dh * (h_prev - n_t)
    dh_z = dh * z_t
    # n_t = tanh(a_n), a_n = x W_xn + b_xn + r_t * hn: from the cached activations, tanh' = 1 - n^2
    da_n = dn * (1.0 - n_t * n_t)
    da_x = xp.empty_like(gates)
    da_x[:, R] = da_n * hn * r_t * (1.0 - r_t)                # through r_t * hn, then sigmoid' = r(1-r)
    da_x[:, Z] = dz * z_t * (1.0 - z_t)
    da_x[:, N] = da_n
    da_h = da_x.copy()
    da_h[:, N] = da_n * r_t                                   # hn = h W_hn + b_hn is scaled by r_t
    return da_x, da_h, dh_z


def gru_step_forward(x_t, h_prev, params):
    """One time step of one GRU layer.

    x_t: (B, D) input;  h_prev: (B, H) h_{t-1}
    params: dict with W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,)
    Returns (h_t, cache): h_t (B, H), cache for ``gru_step_backward``.
    """
    check_step_inputs(x_t, {"h_prev": h_prev}, params, "gru")
    xw_t = x_t @ params["W_x"] + params["b_x"]               # (B, 3H): x_t W_x* + b_x*
    hw_t = h_prev @ params["W_h"] + params["b_h"]            # (B, 3H): h_{t-1} W_h* + b_h*
    h_t, gates, hn = gru_gates_forward(xw_t, hw_t, h_prev)
    return h_t, (x_t, h_prev, gates, hn, params)


def gru_step_backward(dh_t, cache):
    """Backward of ``gru_step_forward``.

    dh_t: (B, H) dL/dh_t (from above and from step t+1)
    Returns (dx_t, dh_prev, dparams): (B, D), (B, H) and a dict with
    W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,).
    """
    check_step_backward_args({"dh_t": dh_t}, cache, "gru")
    x_t, h_prev, gates, hn, params = cache
    da_x, da_h, dh_z = gru_gates_backward(dh_t, gates, hn, h_prev)
    dx_t = da_x @ params["W_x"].T
    dh_prev = dh_z + da_h @ params["W_h"].T                  # h_{t-1} reaches h_t directly and through W_h
    dparams = {"W_x": x_t.T @ da_x, "W_h": h_prev.T @ da_h, "b_x": da_x.sum(axis=0), "b_h": da_h.sum(axis=0)}
    return dx_t, dh_prev, dparams


def gru_buffers(h0, T, dtype):
    """Storage for one GRU layer's forward over T steps, shared by the reference and the kernels.

    h0: (B, H). Returns hs (T+1, B, H) with hs[0] = h0 (hs[t+1] will be h_t),
    gates (T, B, 3H) for the activated [r, z, n], hn (T, B, H) for h_{t-1} W_hn + b_hn.
    """
    xp = get_array_module(h0)
    B, H = h0.shape
    hs = xp.empty((T + 1, B, H), dtype=dtype)
    hs[0] = h0
    return hs, xp.empty((T, B, 3 * H), dtype=dtype), xp.empty((T, B, H), dtype=dtype)


def gru_outputs(x_tm, hs, gates, hn, params):
    """(h_seq (B, T, H) batch-first copy, h_T (B, H), cache) from a filled forward."""
    cache = dict(zip(GRU_CACHE_KEYS, (x_tm, hs, gates, hn, params)))
    return hs[1:].transpose(1, 0, 2).copy(), hs[-1].copy(), cache


def gru_weights_backward(da_x, da_h, x_tm, hs, W_x):
    """Every weight gradient, and dx, as ONE matrix product each over all steps.

    da_x, da_h: (T, B, 3H) gradients of the x side and h side pre-activations; x_tm: (T, B, D);
    hs: (T+1, B, H) with hs[t] = h_{t-1}.
    Returns (dx (B, T, D), {"W_x": (D, 3H), "W_h": (H, 3H), "b_x": (3H,), "b_h": (3H,)}).
    """
    xp = get_array_module(da_x)
    T, B, D = x_tm.shape
    H = hs.shape[-1]
    dax2, dah2 = da_x.reshape(T * B, 3 * H), da_h.reshape(T * B, 3 * H)
    dparams = {"W_x": x_tm.reshape(T * B, D).T @ dax2,      # sum_t x_t^T da_x_t
               "W_h": hs[:-1].reshape(T * B, H).T @ dah2,   # sum_t h_{t-1}^T da_h_t
               "b_x": dax2.sum(axis=0),
               "b_h": dah2.sum(axis=0)}
    dx = xp.ascontiguousarray((dax2 @ W_x.T).reshape(T, B, D).transpose(1, 0, 2))
    return dx, dparams


def gru_forward(x, h0, params):
    """A whole sequence through one GRU layer.

    x: (B, T, D) batch-first input;  h0: (B, H) initial state (None: zeros)
    params: dict with W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,)
    Returns (h_seq, h_T, cache): h_seq (B, T, H) all hidden states, h_T (B, H) the final
    state (like ``lstm_forward``'s (h_T, c_T)); ``gru_gate_activations(cache)`` gives r, z, n, h.
    """
    check_sequence_inputs(x, {"h0": h0}, params, "gru")
    h0 = initial_states(x, params, h0, None)[0]
    W_x, W_h, b_x, b_h = (params[k] for k in GRU_PARAMS)
    T = x.shape[1]
    x_tm, xw = input_projection(x, W_x, b_x)                  # (T, B, D), (T, B, 3H): one product, b_x added
    hs, gates, hn = gru_buffers(h0, T, x.dtype)               # hs[t+1] = h_t, hs[0] = h0
    for t in range(T):
        hs[t + 1], gates[t], hn[t] = gru_gates_forward(xw[t], hs[t] @ W_h + b_h, hs[t])
    return gru_outputs(x_tm, hs, gates, hn, params)


def gru_backward(dh_seq, dh_T, cache):
    """Backpropagation through time for ``gru_forward``.

    dh_seq: (B, T, H) gradient on every output h_t (None for zeros)
    dh_T: (B, H) gradient on the final state (None for zeros)
    Returns (dx, dh0, dparams): dx (B, T, D), dh0 (B, H), and dparams with
    W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,).
    """
    check_sequence_backward_args(dh_seq, {"dh_T": dh_T}, cache, "gru")
    x_tm, hs, gates, hn, params = (cache[k] for k in GRU_CACHE_KEYS)
    xp = get_array_module(x_tm)
    W_x, W_h = params["W_x"], params["W_h"]
    T = x_tm.shape[0]
    dh_next = carried_gradients(dh_T, None, like=hs[0])[0]    # carried dh
    dh_tm = None if dh_seq is None else dh_seq.transpose(1, 0, 2)
    da_x, da_h = xp.empty_like(gates), xp.empty_like(gates)
    for t in reversed(range(T)):
        dh = dh_next if dh_tm is None else dh_tm[t] + dh_next  # from above + from step t+1
        da_x[t], da_h[t], dh_z = gru_gates_backward(dh, gates[t], hn[t], hs[t])
        dh_next = dh_z + da_h[t] @ W_h.T                      # dh_{t-1}: direct path + through W_h
    dx, dparams = gru_weights_backward(da_x, da_h, x_tm, hs, W_x)   # all steps at once
    return dx, dh_next, dparams


def gru_gate_activations(cache):
    """The gate activations of a ``gru_forward`` cache, batch-first, for plots.

    Returns a dict r, z, n, h, each (B, T, H).
    """
    gates = cache["gates"]
    H = gates.shape[-1] // 3
    out = {name: gates[:, :, s].transpose(1, 0, 2) for name, s in zip(GRU_GATES, gru_gate_slices(H))}
    out["h"] = cache["hs"][1:].transpose(1, 0, 2)
    return out
