"""What the cells' reference functions share: the stable sigmoid, the input projection of all time steps,
the initial states and the carried gradients that start BPTT.

Written against ``xp`` (the array module of the inputs), so the same code runs on NumPy and CuPy.
"""
from ..backend import get_array_module


def sigmoid(x):
    """Numerically stable logistic function 1 / (1 + e^-x).

    With ``z = e^-|x|`` (never overflows): ``1 / (1 + z)`` for x >= 0, ``z / (1 + z)`` for x < 0,
    which keeps full relative precision in both tails.
    """
    xp = get_array_module(x)
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0, z) / (1.0 + z)


def input_projection(x, W_x, b):
    """x_t @ W_x + b for every time step as ONE matrix product.

    x: (B, T, D) batch-first; W_x: (D, G*H); b: (G*H,).
    Returns (x_tm (T, B, D) time-major copy, xw (T, B, G*H)).
    """
    xp = get_array_module(x)
    B, T, D = x.shape
    x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2))
    xw = x_tm.reshape(T * B, D) @ W_x
    xw += b
    return x_tm, xw.reshape(T, B, -1)


def initial_states(x, params, h0, c0):
    """h0 and c0, with None meaning zeros of shape (B, H)."""
    xp = get_array_module(x)
    B, H = x.shape[0], params["W_h"].shape[0]
    return tuple(xp.zeros((B, H), dtype=x.dtype) if s is None else s for s in (h0, c0))


def carried_gradients(dh_T, dc_T, like):
    """The carried dh and dc that start BPTT at the last step: C-ordered copies of dh_T, dc_T (in like's dtype), or
    zeros. like: (B, H). C order because the kernels hand these buffers to products and write them row by row."""
    xp = get_array_module(like)
    return tuple(xp.zeros_like(like) if g is None else xp.array(g, dtype=like.dtype, order="C") for g in (dh_T, dc_T))
