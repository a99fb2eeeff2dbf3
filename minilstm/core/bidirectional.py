r"""Bidirectional layers: a wrapper over any cell's sequence functions (no third copy of the math).

A bidirectional layer holds two independent sets of weights of the same cell. The forward
direction reads x_1 .. x_T; the reverse direction reads x_T .. x_1, i.e. it is the same cell
run on x reversed in time, its outputs reversed back so that both line up at each t::

    h->_t = cell(x_1 .. x_t)              (forward direction, params[0])
    h<-_t = cell(x_T .. x_t)              (reverse direction, params[1])
    out_t = [h->_t, h<-_t]                (B, T, 2H): forward first, as torch.nn.LSTM/GRU

The final states are h->_T (after x_T) and h<-_1 (after x_1). Backward splits dout on the
feature axis, reverses the reverse direction's half in time, runs each cell's own backward,
and reverses the reverse direction's dx back before adding it to the forward direction's.

Cell contract (``minilstm.core.lstm``'s LSTM, ``minilstm.core.gru``'s GRU and their kernels)::

    forward(x, *states0, params)         -> (h_seq, states_T, cache)
    backward(dh_seq, *dstates_T, cache)  -> (dx, *dstates0, dparams)

with states0 = (h0,) for the GRU and (h0, c0) for the LSTM (arrays (B, H) or None for zeros),
states_T = h_T or (h_T, c_T). Here states are always tuples.
"""
from ..backend import get_array_module


def as_states(s):
    """A cell's final states as a tuple: h_T -> (h_T,); (h_T, c_T) stays."""
    return s if isinstance(s, tuple) else (s,)


def reverse_time(a):
    """a (B, T, ...) reversed along time, as a contiguous copy (every kernel accepts it); None stays None."""
    if a is None:
        return None
    return get_array_module(a).ascontiguousarray(a[:, ::-1])


def bidirectional_forward(forward, x, states0, params):
    """One bidirectional layer.

    forward: a cell's sequence forward (contract above);  x: (B, T, D)
    states0: pair (forward direction's, reverse direction's) of state tuples (h0,) or (h0, c0), each (B, H) or None
    params: pair of the two directions' parameter dicts
    Returns (out (B, T, 2H) = [forward, reverse], (states_T forward, states_T reverse) as tuples, caches pair).
    """
    xp = get_array_module(x)
    h_f, s_f, cache_f = forward(x, *states0[0], params[0])
    h_r, s_r, cache_r = forward(reverse_time(x), *states0[1], params[1])
    out = xp.concatenate([h_f, h_r[:, ::-1]], axis=-1)        # [h->_t, h<-_t] at every t
    return out, (as_states(s_f), as_states(s_r)), (cache_f, cache_r)


def bidirectional_backward(backward, dout, dstates_T, caches):
    """Backward of ``bidirectional_forward``.

    backward: the cell's sequence backward;  dout: (B, T, 2H) gradient on out (None for zeros)
    dstates_T: pair of tuples of gradients on each direction's final states ((B, H) or None each)
    caches: the pair returned by ``bidirectional_forward``
    Returns (dx (B, T, D), (dstates0 forward, dstates0 reverse) as tuples, (dparams forward, dparams reverse)).
    """
    if dout is None:
        d_f = d_r = None
    else:
        xp = get_array_module(dout)
        H = dout.shape[-1] // 2
        d_f = xp.ascontiguousarray(dout[..., :H])
        d_r = reverse_time(dout[..., H:])                     # the reverse direction saw time reversed
    res_f = backward(d_f, *dstates_T[0], caches[0])
    res_r = backward(d_r, *dstates_T[1], caches[1])
    dx = res_f[0] + res_r[0][:, ::-1]                         # flip the reverse direction's dx back
    return dx, (tuple(res_f[1:-1]), tuple(res_r[1:-1])), (res_f[-1], res_r[-1])
