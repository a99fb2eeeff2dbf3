"""The Holt-Winters filter of ``smoothing`` and its initial states: the equations run over a series for many
parameter sets at once (``run``), the forecasts from its states (``forecasts``), and, since every forecast is
linear in the initial states, those states as a least-squares solution over the rows given (``least_squares_states``)
or, for each origin, over the rows before it only (``expanding_forecasts``). ``smoothing`` chooses the parameters
and holds the model; the equations are in its docstring.

Shapes: x (S, N) series (or (N,) one series), parameter sets (P,) arrays in a dict (alpha, beta, phi, gamma, trend,
season, long, and gamma_long where a long season's phases move), states level (S, P), trend (S, P), season
(S, P, m + long_phases(m2)); forecasts (S, P, k) for the steps ds (k,).
"""
import numpy as np

CHUNK = 128              # rows whose responses are summed in one product (least_squares_states)
REFRESH = 256            # rows between exact inverses in expanding_forecasts' recursive least squares
OOS_ORIGINS = 64         # origins origin_errors spreads over the rows (about)


def initial_states(x, L, m, trend, season, m2=1):
    """The states before row 0 from the first L rows of x (S, N) only (the rows before the first origin),
    for P parameter sets (trend, season: (P,) flags): level (S, P), trend (S, P), season (S, P, m + long_phases(m2)),
    the long season's m2 phases (``long``) after the season's m, all 0 (a window shows no long season).

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
    if m2 > 1:
        s = np.concatenate([s, np.zeros(s.shape[:2] + (m2,))], axis=2)
    return lev, b, s


def long_gamma(params):
    """(P,): how much each one-step error moves the long season's phase (``gamma_long``; 0: fixed phases, and for
    files saved before it)."""
    return params.get("gamma_long", np.zeros(len(params["alpha"])))


def long_phases(m2):
    """How many phases the long season adds to the season states: m2, or 0 without one (m2 <= 1)."""
    return m2 if m2 > 1 else 0


def season_used(m, L, N):
    """The season the filter models: m, or 1 where m = 1 or the first window (or the rows) hold less than one."""
    return m if 1 < m <= min(L, N) else 1


def damping(params, ds):
    """(P, k): phi + phi^2 + ... + phi^d for each step ahead d in ds (0 for d = 0): the damped trend's weight."""
    powers = params["phi"][:, None] ** np.arange(1, max(int(ds.max()), 1) + 1)[None, :]
    return np.concatenate([np.zeros((len(powers), 1)), np.cumsum(powers, axis=1)], axis=1)[:, ds]


def plus_long_season(f, s, rows, m, m2):
    """f (forecasts of ``rows``, an int or (k,) array) plus the long season's phase of each row, s[..., m + row % m2]
    (as the initial states left it, or as the errors moved it since with gamma_long > 0); f itself when m2 <= 1."""
    return f + s[:, :, m + rows % m2] if m2 > 1 else f


def forecasts(lev, b, s, damp, t, ds, m, m2=1):
    """The forecasts (S, P, k) of rows t - 1 + ds made after row t - 1 from the states (S, P), (S, P) and
    (S, P, m + long_phases(m2))."""
    f = lev[:, :, None] + damp[None] * b[:, :, None] + s[:, :, (t - 1 + ds) % m]
    return plus_long_season(f, s, t - 1 + ds, m, m2)


def unit_states(params, m, m2=1):
    """The d = 2 + m + long_phases(m2) initial states, one at a time (row j of each array: state j set to 1, the
    others 0): level (d, P), trend (d, P), season (d, P, d - 2). A state a candidate does not use (no trend, no
    season, no long season) stays 0."""
    d, P = 2 + m + long_phases(m2), len(params["alpha"])
    lev, b, s = np.zeros((d, P)), np.zeros((d, P)), np.zeros((d, P, d - 2))
    lev[0], b[1] = 1.0, params["trend"]
    for i in range(d - 2):
        s[2 + i, :, i] = params["season"] if i < m else params["long"]
    return lev, b, s


def as_vector(lev, b, s):
    """States (P,), (P,), (P, m + long_phases(m2)) -> (P, d), in unit_states' order; as_states is the inverse."""
    return np.concatenate([lev[:, None], b[:, None], s], axis=1)


def as_states(v):
    return v[:, 0], v[:, 1], v[:, 2:]


def responses(x, params, m, m2=1):
    """The filter over one series x (N,) as a linear system: the forecasts depend on the initial states x0 (d,)
    linearly, so it runs from x0 = 0 over x (index 0) and from each unit state over zeros (1..d) at once.

    Yields, for t = 0..N, (lev, b, s) of those 1 + d runs after the rows before t ((1 + d, P), ..., (1 + d, P, m))
    and, for t >= 1, the one-step error e0 (P,) of row t-1 from x0 = 0 and the response r (d, P) of its
    forecast to each initial state: the error from x0 is e0 - x0 . r."""
    a, beta, phi, g = (params[k][None, :] for k in ("alpha", "beta", "phi", "gamma"))
    g2 = long_gamma(params)[None, :]
    units = unit_states(params, m, m2)
    lev, b, s = (np.concatenate([np.zeros_like(u[:1]), u]) for u in units)
    e0 = r = None
    for t in range(len(x) + 1):
        yield t, (lev, b, s), e0, r
        if t == len(x):
            return
        yhat = plus_long_season(lev + phi * b + s[:, :, t % m], s, t, m, m2)
        e = -yhat
        e[0] += x[t]
        e0, r = e[0], yhat[1:]
        lev = lev + phi * b + a * e
        b = phi * b + beta * e
        s[:, :, t % m] += g * e
        if m2 > 1:
            s[:, :, m + t % m2] += g2 * e


def least_squares_states(x, params, m, prior, m2=1):
    """The initial states (P, d) minimising, for every candidate at once, the one-step squared errors over
    the rows of x (N,) plus |x0 - prior|^2 (prior (P, d): the first window's states, ``initial_states``).

    The prior weighs as much as one row per state: it settles what the rows cannot tell apart (a constant
    moved between the level and the season) and keeps a short span from fitting its noise. This is how
    statsforecast's AutoETS and R's ets() start their filters: the initial states are estimated, not
    read off the first rows, which matters for a series with a slow level or season (small alpha, gamma)."""
    d = 2 + m + long_phases(m2)
    A = np.zeros((len(params["alpha"]), d, d))
    c = np.array(prior, dtype=np.float64)
    chunk = []                                                          # the responses r of CHUNK rows, (P, rows, d)
    with np.errstate(over="ignore", invalid="ignore"):                  # an unstable candidate: its prior kept
        for t, _, e0, r in responses(x, params, m, m2):
            if t:
                chunk.append(r.T)
                c += (r * e0).T
            if chunk and (len(chunk) == CHUNK or t == len(x)):
                R = np.stack(chunk, axis=1)
                A += np.matmul(R.transpose(0, 2, 1), R)                 # sum over rows of r r^T
                chunk = []
    bad = ~(np.abs(A).max(axis=(1, 2)) < 1e12) | ~np.isfinite(c).all(axis=1)     # diverging (or nan)
    A[bad], c[bad] = 0.0, prior[bad]
    return np.linalg.solve(A + np.eye(d), c[:, :, None])[:, :, 0]


def run(x, params, m, L, ds, origins=None, score_to=None, back=None, target=None, init=None, absolute=False, m2=1):
    """The filter over x (S, N) for every parameter set in ``params`` (arrays (P,)) at once, its initial states
    ``init`` (level (S, P), trend (S, P), season (S, P, m)) or, by default, from the first L rows (``initial_states``).

    ds: the steps ahead d >= 0 to forecast (k,; d = 0: the smoothed value of the last row).
    origins: the rows t (forecasts made after row t - 1)
    whose forecasts are returned, (S, len(origins), P, k); None: the end of x only, (S, P, k).
    score_to: instead, the mean squared error (P,) of the forecasts from every origin in ``origins`` whose
    target row lies before score_to, pooled over the steps (``absolute``: the mean absolute error; used to
    choose the parameters; a diverging candidate gets inf). back: a function applied to every forecast
    (from the log back to the normalizer's units), target (S, N): what they are scored against (default x)."""
    S, N = x.shape
    m = season_used(m, L, N)
    a, beta, phi, g = (params[k][None, :] for k in ("alpha", "beta", "phi", "gamma"))
    g2 = long_gamma(params)[None, :]
    lev, b, s = initial_states(x, L, m, params["trend"], params["season"], m2) if init is None else init
    s = np.array(s, dtype=np.float64)
    ds = np.asarray(ds, dtype=np.int64)
    damp = damping(params, ds)
    want = set() if origins is None else {int(o) for o in origins}
    target = x if target is None else target
    out, err, count = {}, 0.0, 0
    for t in range(N + 1):
        if t in want or (origins is None and t == N):
            f = forecasts(lev, b, s, damp, t, ds, m, m2)                        # (S, P, k)
            f = f if back is None else back(f)
            if score_to is None:
                out[t] = f
            else:
                ok = t - 1 + ds < score_to
                if ok.any():
                    with np.errstate(over="ignore", invalid="ignore"):
                        e = f[:, :, ok] - target[:, None, t - 1 + ds[ok]]
                        err = err + (np.abs(e) if absolute else e * e).sum(axis=(0, 2))
                    count += S * int(ok.sum())
        if t == N:
            break
        e = x[:, t:t + 1] - plus_long_season(lev + phi * b + s[:, :, t % m], s, t, m, m2)
        lev = lev + phi * b + a * e
        b = phi * b + beta * e
        s[:, :, t % m] += g * e
        if m2 > 1:
            s[:, :, m + t % m2] += g2 * e
    if score_to is not None:
        mean = err / max(count, 1)
        return np.where(np.isfinite(mean), mean, np.inf)
    return np.stack([out[int(o)] for o in origins], axis=1) if origins is not None else out[N]


def prior_states(x, params, m, L, m2=1):
    """(P, d): the first L rows' states (``initial_states``) of the series x (N,), as vectors."""
    lev, b, s = initial_states(x[None], L, m, params["trend"], params["season"], m2)
    return as_vector(lev[0], b[0], s[0])


def fitted_run(x, params, m, L, ds, m2=1, **kw):
    """``run`` over one series x (N,) from the initial states that fit all of its rows (``least_squares_states``):
    what a model is scored with when choosing its parameters on the training rows."""
    m = season_used(m, L, len(x))
    x0 = least_squares_states(x, params, m, prior_states(x, params, m, L, m2), m2)
    return run(x[None], params, m, L, ds, init=tuple(v[None] for v in as_states(x0)), m2=m2, **kw)


def expanding_forecasts(x, params, m, L, ds, origins, back=None, m2=1):
    """The forecasts (len(origins), P, k) from each origin t of one series x (N,), the initial states fitted
    afresh at each origin on the rows before it only (``least_squares_states`` over rows < t, the first window's
    states as the prior), so that no forecast reads a row at or after its origin.

    With a long season (m2 > 1: d = 2 + m + m2 states, a d x d solve per origin took 15 s for a week of half-hours
    over 5,000 origins) the inverse M = (A + I)^-1 follows each row's response r by Sherman-Morrison,
    M <- M - (M r)(M r)^T / (1 + r^T M r) (recursive least squares), and is computed afresh every REFRESH rows so
    that rounding cannot drift; the states are then M c, the same least squares (to ~1e-12)."""
    m = season_used(m, L, len(x))
    ds = np.asarray(ds, dtype=np.int64)
    damp, prior = damping(params, ds), prior_states(x, params, m, L, m2)
    want, d = {int(o) for o in origins}, 2 + m + long_phases(m2)
    A, c, out, M, chunk = np.zeros((len(prior), d, d)), prior.copy(), {}, None, []
    recursive = long_phases(m2) > 0
    for t, (lev, b, s), e0, r in responses(x[:max(want)], params, m, m2):
        if t:
            c += (r * e0).T
            if not recursive:
                A += np.einsum("ip,jp->pij", r, r)
            else:                                           # A summed REFRESH rows at a time, as M needs it
                chunk.append(r.T)
                if M is not None and len(chunk) < REFRESH:
                    u = np.matmul(M, r.T[:, :, None])[:, :, 0]                     # M r, (P, d)
                    M -= u[:, :, None] * (u / (1 + (r.T * u).sum(axis=1))[:, None])[:, None, :]
        if recursive and (len(chunk) == REFRESH or t in want and M is None):     # the exact inverse
            if chunk:
                R = np.stack(chunk, axis=1)
                A += np.matmul(R.transpose(0, 2, 1), R)
            M, chunk = np.linalg.inv(A + np.eye(d)), []
        if t in want:
            if recursive:
                x0 = np.matmul(M, c[:, :, None])[:, :, 0]
            else:
                x0 = np.linalg.solve(A + np.eye(d), c[:, :, None])[:, :, 0]      # (P, d)
            f = forecasts(lev, b, s, damp, t, ds, m, m2)                       # (1 + d, P, k)
            f = f[0] + np.einsum("pd,dpk->pk", x0, f[1:])
            out[t] = f if back is None else back(f)
    return np.stack([out[int(o)] for o in origins])


def origin_errors(x, params, m, L, ds, m2):
    """(n, P): the mean squared error of each candidate's forecasts (steps ds) from n origins spread over the second
    half of the rows of x (N,) (and after its first two long seasons; at most about OOS_ORIGINS of them), the states
    fitted on the rows before each origin only (``expanding_forecasts``): how they would have forecast, not how they
    fit. The second half, because there the states rest on about as many rows as at the forecasts served after
    training (with few long seasons of rows, fixed phases still lean on their prior)."""
    ds = np.asarray(ds, dtype=np.int64)
    origins = np.arange(max(2 * m2, L, len(x) // 2), len(x) - int(ds.min()) + 1)     # each scores a row
    origins = origins[::max(1, len(origins) // OOS_ORIGINS)]
    if len(origins) == 0:                             # too few rows after two long seasons for one forecast
        return np.zeros((0, len(params["alpha"])))
    f = expanding_forecasts(x, params, m, L, ds, origins, m2=m2)              # (n, P, k)
    rows = origins[:, None] - 1 + ds[None, :]                                 # (n, k)
    ok = rows < len(x)
    e = np.where(ok[:, None, :], f - x[np.minimum(rows, len(x) - 1)][:, None, :], 0.0)
    return (e * e).sum(axis=2) / np.maximum(ok.sum(axis=1), 1)[:, None]
