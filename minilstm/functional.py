"""Pure forward/backward pairs for the pieces around the LSTM: linear head, dropout, losses.

Each ``*_forward`` returns ``(out, cache)``; each ``*_backward`` takes the upstream
gradient and the cache. Nothing here mutates its arguments.
"""
from .backend import get_array_module
from .errors import ConfigError, ShapeError
from .validate import check_array, check_number


def linear_forward(x, W, b):
    """y = x @ W + b.   x: (N, D_in), W: (D_in, D_out), b: (D_out,) -> y (N, D_out)."""
    check_array(W, "W", ndim=2)
    check_array(x, "x", shape=(None, W.shape[0]), dims=("batch", "D_in"))
    check_array(b, "b", shape=(W.shape[1],), dims=("D_out",))
    return x @ W + b, (x, W)


def linear_backward(dy, cache):
    """dy: (N, D_out) -> (dx (N, D_in), {"W": (D_in, D_out), "b": (D_out,)})."""
    x, W = cache
    check_array(dy, "dy", shape=(x.shape[0], W.shape[1]), dims=("batch", "D_out"))
    return dy @ W.T, {"W": x.T @ dy, "b": dy.sum(axis=0)}


def dropout_mask(rng, shape, p, dtype, xp):
    """Inverted-dropout mask: 0 with probability p, else 1/(1-p), so E[mask] = 1."""
    check_number(p, "p (dropout probability)", low=0.0, high=1.0, high_open=True)
    keep = uniform(rng, shape) >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p))


def dropout_forward(x, mask):
    """x * mask (mask from ``dropout_mask``; None means no dropout). Any shape; mask has x's shape."""
    _same_shape(mask, x, "mask", "x")
    return x if mask is None else x * mask


def dropout_backward(dout, mask):
    """The mask is a constant: d(x * mask)/dx = mask."""
    _same_shape(mask, dout, "mask", "dout")
    return dout if mask is None else dout * mask


def uniform(rng, shape):
    """Uniform [0, 1) samples from a NumPy Generator or a CuPy RandomState."""
    if hasattr(rng, "random_sample"):
        return rng.random_sample(shape)
    return rng.random(shape)


def _same_shape(a, b, a_name, b_name):
    """a has exactly b's shape (no silent broadcasting); None passes."""
    if a is not None and getattr(a, "shape", None) != getattr(b, "shape", None):
        raise ShapeError(f"{a_name} must have the shape of {b_name} {getattr(b, 'shape', None)}, got "
                         f"{getattr(a, 'shape', type(a).__name__)}.")


# ---- losses: value and gradient with respect to the prediction ------------------
# pred and target must have the same shape: (N, 1) against (N,) would broadcast to (N, N).

def mse_loss(pred, target):
    """Mean squared error over all elements. Returns (loss scalar, dpred same shape as pred)."""
    _same_shape(target, pred, "target", "pred")
    diff = pred - target
    n = diff.size
    return float((diff * diff).sum() / n), 2.0 * diff / n


def mae_loss(pred, target):
    """Mean absolute error; its subgradient is sign(diff)/n (0 where diff == 0)."""
    _same_shape(target, pred, "target", "pred")
    xp = get_array_module(pred)
    diff = pred - target
    n = diff.size
    return float(xp.abs(diff).sum() / n), xp.sign(diff) / n


def huber_loss(pred, target, delta=1.0):
    """Huber loss: quadratic within ``|diff| <= delta``, linear beyond. Returns (loss, dpred)."""
    _same_shape(target, pred, "target", "pred")
    delta = check_number(delta, "delta", low=0.0, low_open=True)
    xp = get_array_module(pred)
    diff = pred - target
    n = diff.size
    absd = xp.abs(diff)
    quad = absd <= delta
    loss = xp.where(quad, 0.5 * diff * diff, delta * (absd - 0.5 * delta))
    grad = xp.where(quad, diff, delta * xp.sign(diff)) / n
    return float(loss.sum() / n), grad


LOSSES = {"mse": mse_loss, "mae": mae_loss, "huber": huber_loss}


def pinball_loss(pred, target, quantiles):
    """Pinball (quantile) loss, averaged over every element of pred. Returns (loss scalar, dpred like pred).

    pred (..., Q): one prediction per quantile level, the levels on the last axis; target (...):
    pred.shape[:-1] (one true value shared by the Q predictions); quantiles (Q,): levels q in (0, 1).
    With u = target - pred[..., j] and q = quantiles[j]::

        rho_q(u) = q * u          if u >= 0   (the prediction is below the truth: weight q)
                   (q - 1) * u    if u <  0   (above the truth: weight 1 - q)
        loss     = sum rho / n,   n = pred.size (N * ... * Q, every prediction counts once)
        dpred    = (1[pred > target] - q) / n      (0 < q < 1; at pred == target the subgradient -q / n)

    Minimising it over a constant prediction gives the q-quantile of the targets, so a network
    trained on it learns conditional quantiles (one output per level).
    """
    xp = get_array_module(pred)
    q = xp.asarray(quantiles, dtype=pred.dtype)
    if getattr(q, "ndim", None) != 1 or getattr(pred, "ndim", 0) < 1 or pred.shape[-1] != q.shape[0]:
        raise ShapeError(f"pinball_loss: pred's last axis must hold one column per quantile level, got pred "
                         f"{getattr(pred, 'shape', None)} and quantiles of shape {getattr(q, 'shape', None)}.")
    if getattr(target, "shape", None) != pred.shape[:-1]:
        raise ShapeError(f"pinball_loss: target must have pred's shape without its last (quantile) axis, "
                         f"{pred.shape[:-1]}, got {getattr(target, 'shape', type(target).__name__)}.")
    if not bool(((q > 0) & (q < 1)).all()):
        raise ConfigError(f"pinball_loss: every quantile level must lie in (0, 1), got {quantiles!r}.")
    diff = target[..., None] - pred                      # (..., Q): u, positive when the prediction is too low
    n = pred.size
    above = diff < 0                                     # pred > target
    loss = xp.where(above, (q - 1.0) * diff, q * diff)
    return float(loss.sum() / n), (above.astype(pred.dtype) - q) / n
