"""Pure forward/backward pairs for the pieces around the LSTM: linear head, dropout, losses.

Each ``*_forward`` returns ``(out, cache)``; each ``*_backward`` takes the upstream
gradient and the cache. Nothing here mutates its arguments.
"""
from .backend import get_array_module


def linear_forward(x, W, b):
    """y = x @ W + b.   x: (N, D_in), W: (D_in, D_out), b: (D_out,) -> y (N, D_out)."""
    return x @ W + b, (x, W)


def linear_backward(dy, cache):
    """dy: (N, D_out) -> (dx (N, D_in), {"W": (D_in, D_out), "b": (D_out,)})."""
    x, W = cache
    return dy @ W.T, {"W": x.T @ dy, "b": dy.sum(axis=0)}


def dropout_mask(rng, shape, p, dtype, xp):
    """Inverted-dropout mask: 0 with probability p, else 1/(1-p), so E[mask] = 1."""
    keep = uniform(rng, shape, xp) >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p))


def dropout_forward(x, mask):
    """x * mask (mask from ``dropout_mask``; None means no dropout). Any shape."""
    return x if mask is None else x * mask


def dropout_backward(dout, mask):
    """The mask is a constant: d(x * mask)/dx = mask."""
    return dout if mask is None else dout * mask


def uniform(rng, shape, xp):
    """Uniform [0, 1) samples from a NumPy Generator or a CuPy RandomState."""
    if hasattr(rng, "random_sample"):
        return rng.random_sample(shape)
    return rng.random(shape)


# ---- losses: value and gradient with respect to the prediction ------------------

def mse_loss(pred, target):
    """Mean squared error over all elements. Returns (loss scalar, dpred same shape as pred)."""
    diff = pred - target
    n = diff.size
    return float((diff * diff).sum() / n), 2.0 * diff / n


def mae_loss(pred, target):
    """Mean absolute error; its subgradient is sign(diff)/n (0 where diff == 0)."""
    xp = get_array_module(pred)
    diff = pred - target
    n = diff.size
    return float(xp.abs(diff).sum() / n), xp.sign(diff) / n


def huber_loss(pred, target, delta=1.0):
    """Huber loss: quadratic within |diff| <= delta, linear beyond. Returns (loss, dpred)."""
    xp = get_array_module(pred)
    diff = pred - target
    n = diff.size
    absd = xp.abs(diff)
    quad = absd <= delta
    loss = xp.where(quad, 0.5 * diff * diff, delta * (absd - 0.5 * delta))
    grad = xp.where(quad, diff, delta * xp.sign(diff)) / n
    return float(loss.sum() / n), grad


LOSSES = {"mse": mse_loss, "mae": mae_loss, "huber": huber_loss}
