"""Exercise stubs: implement these functions, then run the checkers in
``minilstm.exercises`` (or notebook ``tutorials/04_exercises.ipynb``).

Conventions (the same as ``minilstm.core``): row vectors, ``params`` holds
W_x (D, 4H), W_h (H, 4H), b (4H,), gate blocks in the order f, i, c~, o.
"""
import numpy as np  # noqa: F401  (you will need it)


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One LSTM step.

    x_t (B, D), h_prev (B, H), c_prev (B, H); returns (h_t, c_t, cache) with h_t, c_t (B, H) and
    cache = (x_t, h_prev, c_prev, gates, tanh_c, params), where gates (B, 4H) holds the ACTIVATED
    gates [f, i, c~, o] side by side and tanh_c = tanh(C_t).
    """
    raise NotImplementedError("write lstm_step_forward")


def lstm_step_backward(dh_t, dc_t, cache):
    """Backward of one step: dh_t, dc_t (B, H) and the cache above ->
    (dx_t (B, D), dh_prev (B, H), dc_prev (B, H), {"W_x": (D, 4H), "W_h": (H, 4H), "b": (4H,)})."""
    raise NotImplementedError("write lstm_step_backward")


def lstm_backward(dh_seq, dh_T, dc_T, cache):
    """Full BPTT, the backward of ``minilstm.core.lstm_forward(x, h0, c0, params)``.

    dh_seq: (B, T, H), BATCH-first: the gradient on every output h_t (dh_seq[:, t] for step t).
    dh_T, dc_T: (B, H): the gradient on the final states h_{T-1}, C_{T-1} from after the sequence;
    they are the starting values of the carried dh and dc.
    cache: ``lstm_forward``'s, a dict, TIME-first: "x_tm" (T, B, D), "hs" and "cs" (T+1, B, H) where
    hs[0] = h0 and hs[t+1] = h_t (the same for cs), "gates" (T, B, 4H) the activated [f, i, c~, o],
    "tanh_c" (T, B, H), and "params". Step t's cache is (x_tm[t], hs[t], cs[t], gates[t], tanh_c[t], params).
    Hint: ``minilstm.core.gates_backward(dh, dc_next, gates[t], cs[t], tanh_c[t])`` gives (da_t, dc_prev).
    Returns (dx (B, T, D) batch-first like x, dh0 (B, H), dc0 (B, H),
    dparams {"W_x": (D, 4H), "W_h": (H, 4H), "b": (4H,)} summed over the steps).
    """
    raise NotImplementedError("write lstm_backward")


def clip_grad_norm(grads, max_norm):
    """Global-norm clipping: returns (clipped, total_norm). If the norm of ALL gradients together,
    sqrt(sum of squares), exceeds max_norm, scale every array by max_norm / norm. Do not modify ``grads``."""
    raise NotImplementedError("write clip_grad_norm")



def gru_step_backward(dh_t, cache):
    """Backward of one GRU step (``minilstm.gru.gru_step_forward``, PyTorch's form):

        r_t = sigmoid(x_t W_xr + b_xr + h_{t-1} W_hr + b_hr)
        z_t = sigmoid(x_t W_xz + b_xz + h_{t-1} W_hz + b_hz)
        n_t = tanh(x_t W_xn + b_xn + r_t * (h_{t-1} W_hn + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    dh_t (B, H); cache = (x_t, h_prev, gates, hn, params) with gates (B, 3H) the ACTIVATED [r, z, n],
    hn (B, H) = h_{t-1} W_hn + b_hn, params W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,).
    Returns (dx_t (B, D), dh_prev (B, H), {"W_x": (D, 3H), "W_h": (H, 3H), "b_x": (3H,), "b_h": (3H,)}).
    """
    raise NotImplementedError("write gru_step_backward")


def pinball_loss(pred, target, quantiles):
    """The pinball (quantile) loss and its gradient (``minilstm.functional.pinball_loss`` is the reference).

    pred (N, D, Q): one prediction per quantile level on the last axis; target (N, D); quantiles (Q,),
    levels q in (0, 1). With u = target - pred[..., j] and q = quantiles[j]:

        rho_q(u) = q * u  if u >= 0,   (q - 1) * u  if u < 0;     loss = mean of rho over all pred.size values

    Returns (loss (a float), dpred (N, D, Q)): the gradient of the loss with respect to pred.
    Check it with ``minilstm.exercises.check_pinball_backward(pinball_loss)``.
    """
    raise NotImplementedError("write pinball_loss")
