r"""Exponential smoothing, the baseline ``config['baseline'] = 'ets'``: the network learns what it misses.

Additive Holt-Winters with a damped trend (ETS(A,Ad,A) in Hyndman's taxonomy), run over a target's
history column x_0..x_{N-1} (in the normalizer's units), season m::

    yhat_t = l_{t-1} + phi b_{t-1} + s_{t-m}          the one-step forecast of row t
    e_t    = x_t - yhat_t                             its error
    l_t    = l_{t-1} + phi b_{t-1} + alpha e_t        level
    b_t    = phi b_{t-1} + beta e_t                   trend, damped by phi
    s_t    = s_{t-m} + gamma e_t                      season (the same phase one season back)

    forecast of row t + d, made after row t:   l_t + (phi + phi^2 + ... + phi^d) b_t + s_{t+d-m ceil(d/m)}

Smoothing averages the noise out of the level and the seasonal profile over many seasons, which a
network must otherwise learn from few windows (what ``tutorials/11_why_the_lstm_lost.ipynb`` shows).
The parameters (alpha, beta, phi, gamma; with or without a trend, with or without a season) are chosen
from a fixed grid on the training rows only, by the mean absolute error of the forecasts the model is
trained for (the steps ``horizon .. horizon + output_steps - 1`` after each training window), so the
baseline is fitted to the forecast it serves, not to one step ahead. The states at a window's end are
then those of the filter run over every row given before it (``row_forecasts``: the rows passed to
``fit``/``predict``/``evaluate``/``forecast`` and a backtest's folds), or over the window alone where only
windows are given (``window_forecasts``). Either way a forecast reads rows before its origin only. Where
every training value is positive, the same is tried on the logarithm of the series (a season that grows
with the level, as in airline passengers) and kept if it forecasts the training rows better.

Initial states come from the first window's rows only (the L rows before the first origin; see
``initial_states``), so no forecast reads a row at or after its origin.
"""
import warnings

import numpy as np

ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
BETAS = (0.01, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
PHIS = (0.8, 0.9, 0.95, 0.98, 1.0)
GAMMAS = (0.05, 0.1, 0.2, 0.3, 0.5)
LOG_FLOOR = 0.01        # a raw value <= 0 met after a log form was chosen: read as this x the training minimum
MAX_FIT_ROWS = 2000      # the parameters are chosen on the last rows of a longer training span


def grid(seasonal):
    """The candidate parameters: dict of arrays (P,) alpha, beta, phi, gamma, trend (0/1), season (0/1).

    Within the usual bounds (Hyndman et al., 2008): beta <= alpha (the trend moves no faster than the
    level) and gamma <= 1 - alpha (the season does not absorb what the level takes)."""
    trends = [(0.0, 1.0, 0.0)] + [(b, p, 1.0) for b in BETAS for p in PHIS]
    seasons = [(0.0, 0.0)] + ([(0.0, 1.0)] + [(g, 1.0) for g in GAMMAS] if seasonal else [])
    rows = [(a, b, p, g, t, s) for a in ALPHAS for (b, p, t) in trends if b <= a
            for (g, s) in seasons if g <= 1 - a + 1e-9]
    cols = np.array(rows, dtype=np.float64).T
    return dict(zip(("alpha", "beta", "phi", "gamma", "trend", "season"), cols))


def initial_states(x, L, m, trend, season):
    """The states before row 0 from the first L rows of x (S, N) only (the rows before the first origin),
    for P parameter sets (trend, season: (P,) flags): level (S, P), trend (S, P), season (S, P, m).

    A least-squares line through those rows gives the level at row 0 and the slope (the trend; 0 without
    one); the season (with at least one full season in them) is each phase's mean deviation from the line
    over the whole seasons, centred to sum to zero. m = 1 or fewer than m rows: no season."""
    S = x.shape[0]
    n = max(min(L, x.shape[1]), 1)
    u = np.arange(n) - (n - 1) / 2
    first = x[:, :n]
    slope = (first * u).sum(axis=1) / max((u * u).sum(), 1e-12) if n > 1 else np.zeros(S)
    line0 = first.mean(axis=1) - slope * (n - 1) / 2                    # the line at row 0
    if m > 1 and n >= m:
        whole = (n // m) * m
        dev = (first[:, :whole] - (line0[:, None] + slope[:, None] * np.arange(whole))).reshape(S, -1, m).mean(axis=1)
        dev -= dev.mean(axis=1, keepdims=True)
    else:
        dev, m = np.zeros((S, 1)), 1
    b = slope[:, None] * trend[None, :]                                 # (S, P)
    lev = np.broadcast_to(line0[:, None], b.shape) - b                  # so that l + b is row 0's level
    s = dev[:, None, :] * season[None, :, None]                         # (S, P, m)
    return lev, b, s


def run(x, params, m, L, ds, origins=None, score_to=None, back=None, target=None):
    """The filter over x (S, N) for every parameter set in ``params`` (arrays (P,)) at once, its initial states
    from the first L rows (``initial_states``).

    ds: the steps ahead d >= 0 to forecast (k,; d = 0: the smoothed value of the last row).
    origins: the rows t (forecasts made after row t - 1)
    whose forecasts are returned, (S, len(origins), P, k); None: the end of x only, (S, P, k).
    score_to: instead, the mean absolute error (P,) of the forecasts from every origin in ``origins`` whose
    target row lies before score_to (used to choose the parameters). back: a function applied to every
    forecast (from the log back to the normalizer's units), target (S, N): what they are scored against
    (default x)."""
    S, N = x.shape
    m = m if 1 < m <= min(L, N) else 1
    a, beta, phi, g = (params[k][None, :] for k in ("alpha", "beta", "phi", "gamma"))
    lev, b, s = initial_states(x, L, m, params["trend"], params["season"])
    ds = np.asarray(ds, dtype=np.int64)
    powers = params["phi"][:, None] ** np.arange(1, max(int(ds.max()), 1) + 1)[None, :]
    damp = np.concatenate([np.zeros((len(powers), 1)), np.cumsum(powers, axis=1)], axis=1)[:, ds]  # (P, k)
    want = set() if origins is None else {int(o) for o in origins}
    target = x if target is None else target
    out, err, count = {}, 0.0, 0
    for t in range(N + 1):
        if t in want or (origins is None and t == N):
            f = lev[:, :, None] + damp[None] * b[:, :, None] + s[:, :, (t - 1 + ds) % m]   # (S, P, k)
            f = f if back is None else back(f)
            if score_to is None:
                out[t] = f
            else:
                ok = t - 1 + ds < score_to
                if ok.any():
                    with np.errstate(over="ignore", invalid="ignore"):    # a diverging candidate scores inf
                        err = err + np.abs(f[:, :, ok] - target[:, None, t - 1 + ds[ok]]).sum(axis=(0, 2))
                    count += S * int(ok.sum())
        if t == N:
            break
        e = x[:, t:t + 1] - (lev + phi * b + s[:, :, t % m])
        lev = lev + phi * b + a * e
        b = phi * b + beta * e
        s[:, :, t % m] += g * e
    if score_to is not None:
        return err / max(count, 1)
    return np.stack([out[int(o)] for o in origins], axis=1) if origins is not None else out[N]


class ExponentialSmoothing:
    """The 'ets' baseline of one or more target columns: one parameter set per column (see the module).

    fit(x (N, C), L, ds) on the training rows; row_forecasts(x (N, C), L, ds) -> (N - L + 1, k, C) the
    forecasts made at the end of every window of x; window_forecasts(Xw (n, L, C), ds) -> (n, k, C) from
    each window alone. ``params``: a list (one dict per column) of floats, saved in the model file.

    to_raw: per column, (a, c) with raw = a x + c the column in its original units (the normalizer being
    affine on it), or None. Where the training rows' raw values are all positive, the smoothing is also
    tried on log(raw) (a multiplicative season and trend: the swing grows with the level, as in
    airline passengers), and kept if its forecasts are better. A later raw value <= 0 is then read as
    LOG_FLOOR x the smallest positive training value, with a ``UserWarning``.
    """

    def __init__(self, m, params=None, to_raw=None):
        self.m, self.params = int(m), params
        self.to_raw = to_raw

    def _log(self, x, c, floor=None):
        """x (S, N) in the normalizer's units -> (log of the raw values, back: forecasts -> normalizer's units)."""
        a, b = self.to_raw[c]
        raw = a * x + b
        if floor is not None and (raw < floor).any():
            warnings.warn(f"the 'ets' baseline smooths the log of target column {c}, but some values are below "
                          f"{floor:.6g} (the floor from its training values); they are read as that floor. Fit "
                          "again on rows that include such values to let the baseline choose an additive form.",
                          UserWarning, stacklevel=4)
            raw = np.maximum(raw, floor)

        def back(f):
            with np.errstate(over="ignore"):
                return (np.minimum(np.exp(f), np.finfo(np.float64).max / 4) - b) / a
        return np.log(raw), back

    def fit(self, x, L, ds):
        x = x[-MAX_FIT_ROWS:]
        origins = range(min(L, len(x) - 1), len(x))
        self.params, cand = [], grid(self.m > 1)
        for c in range(x.shape[1]):
            xc = x[None, :, c]
            mae = run(xc, cand, self.m, L, ds, origins=origins, score_to=len(x))
            best, log = int(np.argmin(mae)), None                        # the first of equals: the simpler
            raw = None if self.to_raw is None or self.to_raw[c] is None else self.to_raw[c][0] * xc + self.to_raw[c][1]
            if raw is not None and (raw > 0).all():
                floor = LOG_FLOOR * float(raw.min())
                z, back = self._log(xc, c)
                mae_log = run(z, cand, self.m, L, ds, origins=origins, score_to=len(x), back=back, target=xc)
                if mae_log.min() < mae[best]:
                    best, log = int(np.argmin(mae_log)), floor
            chosen = {k: float(v[best]) for k, v in cand.items()}
            self.params.append(dict(chosen, log=float(log is not None), floor=log or 0.0))
        return self

    def _run(self, x, c, L, ds, **kw):
        p = {k: np.array([v]) for k, v in self.params[c].items() if k not in ("log", "floor")}
        if self.params[c]["log"]:
            z, back = self._log(x, c, self.params[c]["floor"])
            return run(z, p, self.m, L, ds, back=back, **kw)
        return run(x, p, self.m, L, ds, **kw)

    def row_forecasts(self, x, L, ds):
        return np.stack([self._run(x[None, :, c], c, L, ds, origins=range(L, len(x) + 1))[0, :, 0]
                         for c in range(x.shape[1])], axis=-1)

    def window_forecasts(self, Xw, ds):
        return np.stack([self._run(Xw[:, :, c], c, Xw.shape[1], ds)[:, 0] for c in range(Xw.shape[2])], axis=-1)
