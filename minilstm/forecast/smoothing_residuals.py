r"""The smoother's multi-step errors forecast from its own recent one-step errors: a linear correction of the 'ets'
baseline, kept only where it forecasts better out of sample.

Exponential smoothing forecasts a level, a trend and a season; what it leaves is often not noise: the cycle of
sunspots or lynx trappings, a warm spell that persists, demand that stays above its profile for a day. Its one-step
errors then predict its next errors (what an ARIMA model, or ETS with ARMA errors, uses). With e_t = x_t - yhat_t the
one-step error of row t (its forecast made from the rows before t only), the forecast of step d from origin o
(made after row o - 1) becomes::

    yhat_{o,d} + c_{o,d}        c_{o,d} = sum_{i=1..p} W[i-1, d] e_{o-i}        (c_o = E_o W, E_o the p lagged errors)

W (p, k) one column per step served, a ridge regression of the smoother's d-step errors on the p errors before each
training origin (``ridge``: a penalty as large as the data's mean diagonal, which halves a lone coefficient).
Everything is out of sample: the smoother's states at each origin are fitted on the rows before it only
(``expanding_forecasts``), and the correction reads errors of rows before the origin only.

Whether to correct, and with how many lags p (``AR_ORDERS``), is decided on the training origins alone: W fitted on
their first half, the second half scored; the order with the largest mean gain in squared error is kept where that
gain exceeds AR_SE standard errors (``choose_correction``). Neighbouring origins share their targets, so the gains
are averaged over blocks of H origins before the standard error is taken, and an order with fewer than MIN_BLOCKS
blocks is not tried (on a short series the correction is not kept: with 2-4 blocks noise was kept on 17 seeds of
100). W is then refitted on every training origin. On the 41 real series of
``benchmarks/bench_smoother.py`` the smoother alone kept it on 10 and was better (by > 0.5%) on 7 and worse on 1 (by
1.0%), 1.9% better in geometric mean: yearly sunspots from 2.80 to 1.53 MASE, elnino 0.603 to 0.577; where the
errors are noise (stocks, most weather) or the series is too short to judge (quarterly and yearly ones but
sunspots), it is not kept.

Shapes: r (N,) the one-step errors of rows 0..N-1 (0 where there is none), origins (n,), E (n, k) the errors of the
k steps served from each origin, W (p, k).
"""
import numpy as np

AR_ORDERS = (1, 2, 3, 4, 6, 8, 12)    # lags of the one-step errors tried
MAX_AR_ORDER = 64       # the most lags a model file may hold
MAX_AR_WEIGHT = 1e6     # the largest |W| a model file may hold (fitted ones are of the order of 1)
AR_SE = 2.0             # standard errors of out-of-sample gain the correction must show
MIN_BLOCKS = 5          # blocks of H origins the second half needs to judge a gain
MIN_AR_ORIGINS = 20     # training origins an order needs to be tried


def lagged(r, origins, p):
    """(..., n, p): the one-step errors r[..., o-1], r[..., o-2], ..., r[..., o-p] before each origin o (0 before row
    0), over r's last axis (r (N,) the rows of a series, or (S, N) of S windows)."""
    idx = np.asarray(origins, dtype=np.int64)[:, None] - 1 - np.arange(p)[None, :]
    return np.where(idx >= 0, r[..., np.maximum(idx, 0)], 0.0)


def ridge(X, Y):
    """W (p, k) minimising |Y - X W|^2 + lam |W|^2, lam = trace(X^T X) / p (the mean squared lag times n)."""
    A = X.T @ X
    lam = np.trace(A) / X.shape[1] + 1e-12
    return np.linalg.solve(A + lam * np.eye(X.shape[1]), X.T @ Y)


def block_means(g, H):
    """The gains g (n,) averaged over blocks of H neighbouring origins (H >= 1): nearly independent values to take a
    standard error over."""
    nb = len(g) // H
    return g[:nb * H].reshape(nb, H).mean(axis=1)


def choose_correction(r, E, origins, H):
    """W (p, k) fitted on every training origin, or None where no order gains AR_SE standard errors out of sample.

    r (N,): one-step errors; E (n, k): the smoother's errors from each training origin (origins (n,), ascending);
    H >= 1: origins per block (the steps' span). An order is tried where MIN_AR_ORIGINS origins have its p lags and the
    second half of them makes MIN_BLOCKS blocks."""
    origins = np.asarray(origins, dtype=np.int64)
    best = None
    for p in AR_ORDERS:
        use = origins >= p + int(origins[0])               # origins with p errors before them (rows 0.. have none)
        if use.sum() < MIN_AR_ORIGINS:
            break
        X, Y = lagged(r, origins[use], p), E[use]
        half = len(X) // 2
        W = ridge(X[:half], Y[:half])
        gain = block_means((Y[half:] ** 2).mean(axis=1) - ((Y[half:] - X[half:] @ W) ** 2).mean(axis=1), H)
        if len(gain) < MIN_BLOCKS:                          # too few blocks to tell a gain from chance
            continue
        mean, se = gain.mean(), gain.std(ddof=1) / np.sqrt(len(gain))
        if best is None or mean > best[0]:
            best = (mean, se, X, Y)
    if best is None or not best[0] > AR_SE * best[1]:
        return None
    return ridge(best[2], best[3])


def corrections(r, origins, W):
    """(..., n, k): c_o = E_o W, the correction of each origin's forecasts from the errors before it (r as ``lagged``
    reads it)."""
    return lagged(r, origins, len(W)) @ W
