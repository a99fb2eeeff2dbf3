r"""Exponential smoothing, the baseline ``config['baseline'] = 'ets'``: the network learns what it misses.

Additive Holt-Winters with a damped trend (ETS(A,Ad,A) in Hyndman's taxonomy), run over a target's
history column x_0..x_{N-1} (in the normalizer's units), season m::

    yhat_t = l_{t-1} + phi b_{t-1} + s_{t-m}          the one-step forecast of row t
    e_t    = x_t - yhat_t                             its error
    l_t    = l_{t-1} + phi b_{t-1} + alpha e_t        level
    b_t    = phi b_{t-1} + beta e_t                   trend, damped by phi
    s_t    = s_{t-m} + gamma e_t                      season (the same phase one season back)

    forecast of row t + d, made after row t:   l_t + (phi + phi^2 + ... + phi^d) b_t + s_{t+d-m ceil(d/m)}

with, where it earns its phases, a long season w of m2 rows added to every forecast (yhat_t + w_{t mod m2}; the
week of hourly data over its daily season, as in Taylor's double seasonal Holt-Winters, 2003), its phases states
fitted with the others (below), fixed or, where that forecasts clearly better, moved by the errors too::

    w_t    = w_{t-m2} + gamma_long e_t                long season (gamma_long 0: fixed phases)

(``with_long_season``, ``moving_long_season``). On Victoria's hourly demand a day ahead the long season took the
smoother from 0.85 to 0.57 MASE (MSTL 0.58; fixed phases); on its half-hourly demand in another winter from 0.93
to 0.40 (MSTL 0.44; moving phases); tried on four hourly weather series, it was not kept (``bench_smoother.py``).

Smoothing averages the noise out of the level and the seasonal profile over many seasons, which a
network must otherwise learn from few windows (what ``tutorials/11_why_the_lstm_lost.ipynb`` shows).
The parameters (alpha, beta, phi, gamma; with or without a trend, with or without a season) are chosen
from a fixed grid on the training rows only, for the forecasts the model is trained for (the steps
``horizon .. horizon + output_steps - 1`` after each training window), by an information criterion over
their errors (``criterion``)::

    MSE        = mean of (forecast - actual)^2 over the training rows and the steps served
    log lik    = -(n / 2) (log(2 pi MSE) + 1)                     n: the rows scored (each once)
    AICc       = -2 log lik + 2k + 2k(k+1)/(n-k-1)                k: smoothing parameters, initial states, variance

a Gaussian likelihood of the errors over the whole horizon (the trace of the multi-step MSEs, "TMSE" in R's
smooth package; Svetunkov, Kourentzes & Killick, 2023) with the AICc penalty AutoETS uses. The baseline is
fitted to the forecast it serves, not to one step ahead, and a trend, a damping or a season must earn its
parameters. A row's forecasts from neighbouring origins share their errors (a d-step error holds the later
steps' 1-step errors), so each scored row counts once: counted once per step, the penalty all but vanished
and noise got a season. The states at a window's end are then those of the filter run over every row given
before it (``row_forecasts``: the rows passed to ``fit``/``predict``/``evaluate``/``forecast`` and a
backtest's folds), or over the window alone where only windows are given (``window_forecasts``). Either
way a forecast reads rows before its origin only. Where every training value is positive, the same is tried on
the logarithm of the series (a season that grows with the level, as in airline passengers), its likelihood taken
in the original units (less the sum of the log values, the transform's Jacobian), and kept if its criterion is
lower. A season longer than the window is not modelled (``season_used``).
Where the smoother's one-step errors forecast its multi-step errors (a cycle it cannot follow), a linear correction
by the last p of them is added to its forecasts, chosen and fitted on the training rows' out-of-sample errors and
kept only where it forecasts better there (``error_correction``; the equations in ``smoothing_residuals``;
``config['error_correction']``).
``config['baseline_criterion'] = 'mae'`` chooses as models fitted before AICc did: by the forecasts' mean
absolute error, with no penalty (``benchmarks/README.md`` compares the two on the peer benchmark's series
and on 13 others, ``benchmarks/bench_smoother.py``).

Initial states (the level, trend and season before the first row) are estimated as AutoETS and R's
``ets()`` estimate them, not read off the first rows: every forecast is linear in them, so the states that
minimise the one-step squared errors are a least-squares solution (``least_squares_states``; the first
window's line and seasonal profile, ``initial_states``, serve as a prior worth one row per state). When
choosing the parameters they are fitted on all training rows; for a forecast from origin t they are
fitted afresh on the rows before t only (``expanding_forecasts``), so no forecast reads a row at or after
its origin. A slow level or season (small alpha, gamma) then starts where the data say, not where the
first window happened to lie: on the peer benchmark's eleven short series the smoother alone went from a
median of 1.03x to 1.00x the best statistical method's MASE (``benchmarks/README.md``). Files saved
before this existed keep the first-window states (``init='first_window'``) and forecast exactly as before.
"""
import warnings

import numpy as np

from .smoothing_filter import expanding_forecasts, fitted_run, long_gamma, origin_errors, run, season_used
from .smoothing_residuals import choose_correction, corrections

ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
BETAS = (0.01, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
PHIS = (0.8, 0.9, 0.95, 0.98, 1.0)
GAMMAS = (0.05, 0.1, 0.2, 0.3, 0.5)
LONG_GAMMAS = (0.2, 0.5, 1.0)   # a long season's phases moved by the errors (moving_long_season)
LONG_SE = 2.0            # standard errors of gain the moving phases must show over the fixed ones
MIN_ORIGINS = 10         # origins moving_long_season needs to compare them
LOG_FLOOR = 0.01        # a raw value <= 0 met after a log form was chosen: read as this x the training minimum
EXACT = 1e-9             # errors below this x the series' largest value: an exact fit, nothing to correct
MAX_FIT_ROWS = 2000      # the parameters are chosen on the last rows of a longer training span
FITTED, FIRST_WINDOW = "least_squares", "first_window"     # how the filter's initial states are found
AICC, MAE = "aicc", "mae"  # how the parameters are chosen (config['baseline_criterion']; MAE: as before AICc)


def grid(seasonal):
    """The candidate parameters: dict of arrays (P,) alpha, beta, phi, gamma, trend (0/1), season (0/1), long (0: the
    long season is tried later, ``with_long_season``).

    Within the usual bounds (Hyndman et al., 2008): beta <= alpha (the trend moves no faster than the
    level) and gamma <= 1 - alpha (the season does not absorb what the level takes)."""
    trends = [(0.0, 1.0, 0.0)] + [(b, p, 1.0) for b in BETAS for p in PHIS]
    seasons = [(0.0, 0.0)] + ([(0.0, 1.0)] + [(g, 1.0) for g in GAMMAS] if seasonal else [])
    rows = [(a, b, p, g, t, s) for a in ALPHAS for (b, p, t) in trends if b <= a
            for (g, s) in seasons if g <= 1 - a + 1e-9]
    cols = np.array(rows, dtype=np.float64).T
    return dict(zip(("alpha", "beta", "phi", "gamma", "trend", "season"), cols), long=np.zeros(len(rows)))


def n_parameters(params, m, m2=1):
    """(P,): what each candidate estimates: alpha, beta and phi with a trend (phi only when damped, phi < 1), gamma
    when its season is updated (gamma > 0), and the initial states: the level, the trend, m - 1 season phases, and
    the long season's phases beyond what the season already holds (m2 - gcd(m, m2) with a season: m2 - m when m
    divides m2; m2 - 1 without one)."""
    trend, season = params["trend"], params["season"]
    smoothing = 1 + trend * (1 + (params["phi"] < 1)) + (params["gamma"] > 0) + (long_gamma(params) > 0)
    extra = m2 - np.where(season > 0, np.gcd(m, m2), 1) if m2 > 1 else 0
    return smoothing + 1 + trend + season * (m - 1) + params.get("long", 0) * extra


def criterion(mse, n, k, jacobian=0.0, floor=0.0, penalty=True):
    """AICc (P,) of the candidates from the mean squared error mse (P,) of their multi-step forecasts of n rows,
    k (P,) parameters (``n_parameters``; the errors' variance is counted here, as AutoETS counts it).

    The errors are taken as Gaussian with variance MSE, each scored row counted once (the forecasts of one row
    from neighbouring origins share their errors: a d-step error holds the later steps' 1-step errors), so the
    log likelihood is -(n/2)(log(2 pi MSE) + 1), less ``jacobian`` (the sum of log|dz/dx| over those rows: a model
    of z = log x scored in x's units). A candidate with n - k - 2 <= 0 (more parameters than the rows can
    judge) gets inf, as in AutoETS. An MSE below ``floor`` is read as the floor, so that exact fits tie and the
    penalty prefers the simplest; a diverging candidate (inf) gets inf. penalty=False: -2 log likelihood alone."""
    defined, mse, k = aicc_defined(n, k), np.maximum(mse, floor), k + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = -0.5 * n * (np.log(2 * np.pi * mse) + 1) - jacobian
        if not penalty:
            return -2 * loglik
        aicc = -2 * loglik + 2 * k + 2 * k * (k + 1) / (n - k - 1)
    return np.where(defined, aicc, np.inf)


def aicc_defined(n, k):
    """Whether n scored rows can judge k parameters (and the variance): n - k - 2 > 0, as AutoETS requires."""
    return n - k - 2 > 0


class ExponentialSmoothing:
    """The 'ets' baseline of one or more target columns: one parameter set per column (see the module).

    fit(x (N, C), L, ds) on the training rows; row_forecasts(x (N, C), L, ds) -> (N - L + 1, k, C) the
    forecasts made at the end of every window of x; window_forecasts(Xw (n, L, C), ds) -> (n, k, C) from
    each window alone. ``params``: a list (one dict per column) of floats, saved in the model file.

    to_raw: per column, (a, c) with raw = a x + c the column in its original units (the normalizer being
    affine on it), or None. Where the training rows' raw values are all positive, the smoothing is also
    tried on log(raw) (a multiplicative season and trend: the swing grows with the level, as in
    airline passengers), and kept if its criterion is lower (``criterion``, in the original units). A later
    raw value <= 0 is then read as LOG_FLOOR x the smallest positive training value, with a ``UserWarning``.

    m2: a long season (the week of hourly data; ``seasons.long_season``), or 1 for none: tried on the chosen
    form (``with_long_season``) and kept where its criterion is lower. It is modelled where rows are given
    (``row_forecasts``), not from windows alone, which are shorter than it.

    correct: try the error correction (``error_correction``; criterion AICC only); where kept, a column's params hold
    its W (p, k) as ``ar``, its k columns the steps ``steps`` (set by ``fit``; default 1..k), and a step asked for that
    is not among them is not corrected.
    """

    def __init__(self, m, params=None, to_raw=None, init=FITTED, criterion=AICC, m2=1, steps=None, correct=True):
        self.m, self.params, self.m2, self.correct = int(m), params, int(m2), bool(correct)
        self.steps = None if steps is None else [int(d) for d in steps]   # the steps an error correction serves
        self.to_raw, self.init, self.criterion = to_raw, init, criterion

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
        """Choose each column's parameters on the training rows x (N, C) for the steps ds: by ``criterion`` (AICC,
        the default) or, with criterion MAE (models fitted before AICc), by the mean absolute error of the
        forecasts with no penalty, the log form's forecasts scored back in the normalizer's units."""
        x, self.steps = x[-MAX_FIT_ROWS:], [int(d) for d in ds]
        m = season_used(self.m, L, len(x))                             # 1: a season longer than the window
        self.params, cand = [], grid(m > 1 if self.criterion == AICC else self.m > 1)
        n_params = n_parameters(cand, m)
        first = max(min(L, len(x) - 1) - 1 + int(np.min(ds)), 0)      # the first row a scored forecast targets
        for c in range(x.shape[1]):
            xc = x[None, :, c]
            score = self._score(xc[0], cand, n_params, L, ds, first)
            best, log, z, jacobian = int(np.argmin(score)), None, xc, 0.0    # the first of equals: the simpler
            raw = None if self.to_raw is None or self.to_raw[c] is None else self.to_raw[c][0] * xc + self.to_raw[c][1]
            if raw is not None and (raw > 0).all():
                zl, back = self._log(xc, c)
                jl = 0.0
                if self.criterion == AICC:                             # dz/dx = a / raw, over the scored rows
                    jl = float(np.log(raw[0, first:] / abs(self.to_raw[c][0])).sum())
                    score_log = self._score(zl[0], cand, n_params, L, ds, first, jacobian=jl)
                else:
                    score_log = self._score(zl[0], cand, n_params, L, ds, first, back=back, target=xc)
                if score_log.min() < score[best]:
                    best, log, z, jacobian = int(np.argmin(score_log)), LOG_FLOOR * float(raw.min()), zl, jl
                    score = score_log
            chosen = {k: float(v[best]) for k, v in cand.items()}
            if self.m2 > 1 and self.criterion == AICC:
                chosen = self.with_long_season(z[0], chosen, float(score[best]), m, L, ds, first, jacobian)
            self.params.append(dict(chosen, log=float(log is not None), floor=log or 0.0))
            if self.correct and self.criterion == AICC and self.init == FITTED:
                W = self.error_correction(x[:, c], c, L, ds)
                if W is not None:
                    self.params[c]["ar"] = W.tolist()
        return self

    def error_correction(self, x, c, L, ds):
        """W (p, k) the correction of column c's forecasts by its recent one-step errors (``smoothing_residuals``),
        chosen on the training rows x (N,) in the normalizer's units, or None where it does not forecast better."""
        ds = np.asarray(ds, dtype=np.int64)
        last = len(x) - int(ds.max())                                # the last origin whose targets are all rows
        if last <= L:
            return None
        f, r = self._forecasts_and_errors(x, c, L, ds, range(L, len(x) + 1))
        origins = np.arange(L, last + 1)
        E = x[origins[:, None] - 1 + ds[None, :]] - f[:last + 1 - L]
        scale = float(np.max(np.abs(E))) if np.isfinite(E).all() and np.isfinite(r).all() else 0.0
        if not scale > EXACT * float(np.max(np.abs(x))):              # an exact fit (its errors rounding) or diverging
            return None
        return choose_correction(r / scale, E / scale, origins, max(int(ds.max()), 1))   # W: the same in any units

    def with_long_season(self, z, chosen, score, m, L, ds, first, jacobian):
        """The chosen form's parameters (a dict of floats) with the long season m2 added, if one of them has a lower
        criterion than ``score`` (the chosen's), else ``chosen``. z (N,): the series in the form chosen (logs or not).

        Tried first with fixed phases (gamma_long 0), fitted with the other states by least squares on the rows
        before each origin, so the profile is re-estimated from every origin's history: with the chosen trend and
        season and every alpha and gamma (the level no longer has to follow the long cycle), not the whole grid (its
        d x d systems, d = 2 + m + m2, for every candidate). Needs two long seasons of rows, and more scored rows than
        the long candidates have parameters (else their AICc is undefined and they are not tried). Where it is kept,
        ``moving_long_season`` decides whether its phases also follow the errors."""
        if len(z) < 2 * self.m2:
            return chosen
        cand = grid(chosen["season"] > 0)
        same = np.ones(len(cand["alpha"]), dtype=bool)
        for k in ("beta", "phi", "trend", "season"):
            same &= cand[k] == chosen[k]
        cand = {k: v[same] for k, v in cand.items()}
        cand["long"] = np.ones(len(cand["alpha"]))
        k = n_parameters(cand, m, self.m2)
        if not aicc_defined(len(z) - first, k.min()):             # more phases than the rows can judge
            return chosen
        score_long = self._score(z, cand, k, L, ds, first, jacobian=jacobian, m2=self.m2)
        if not score_long.min() < score:
            return chosen
        return self.moving_long_season({k: float(v[int(np.argmin(score_long))]) for k, v in cand.items()}, z, m, L, ds)

    def moving_long_season(self, fixed, z, m, L, ds):
        """``fixed`` (the kept long season with fixed phases, a dict of floats) or the same with moving phases,
        w_t = w_{t-m2} + gamma_long e_t (Taylor's double seasonal Holt-Winters, 2003), gamma_long in LONG_GAMMAS
        and the season's gamma as chosen or 0 (the long cycle may take over the season's moves).

        Chosen by how they forecast, not by AICc: each candidate's forecasts from origins spread over the training
        rows, its states fitted on the rows before each origin only (``origin_errors``). Fitted on all the rows,
        fixed phases fit them closely (m2 states by least squares) and would always win in-sample. The moving form
        is kept where its mean gain per origin over the fixed one exceeds LONG_SE standard errors (with at least
        MIN_ORIGINS origins; else the phases stay fixed): on England and
        Wales' half-hourly demand (Taylor's own series, 2000) the smoother went from 0.45 to 0.23 MASE (MSTL 0.17),
        on Victoria's in 2013 from 0.44 to 0.40; Victoria's hourly demand in the peer benchmark keeps fixed phases
        (``benchmarks/bench_smoother.py``)."""
        pairs = [(g, gl) for g in sorted({0.0, fixed["gamma"]}) for gl in LONG_GAMMAS]
        cand = {k: np.array([v] + [v] * len(pairs)) for k, v in fixed.items()}
        cand["gamma"] = np.array([fixed["gamma"]] + [g for g, _ in pairs])
        cand["gamma_long"] = np.array([0.0] + [gl for _, gl in pairs])
        err = origin_errors(z, cand, m, L, ds, self.m2)                 # (origins, 1 + len(pairs))
        if len(err) < MIN_ORIGINS:                                     # too few to tell
            return dict(fixed, gamma_long=0.0)
        gain = err[:, :1] - err[:, 1:]
        j = int(np.argmax(gain.mean(axis=0)))
        keep = gain[:, j].mean() > LONG_SE * gain[:, j].std() / np.sqrt(len(gain))
        return {k: float(v[j + 1 if keep else 0]) for k, v in cand.items()}

    def _score(self, x, cand, k, L, ds, first, jacobian=0.0, **kw):
        """Every candidate's score (P,) on the rows of x (N,) for the steps ds, the forecasts scored on rows
        first..N-1: AICc (``criterion``), or the mean absolute error with criterion MAE. Lower is better.

        AICc is computed on x / max|x| (plus 2 n log max|x|, its value in x's units), so that neither a huge nor a
        tiny series over- or underflows; where every candidate has more parameters than the rows can judge, the
        likelihood alone decides."""
        kw.update(origins=range(min(L, len(x) - 1), len(x)), score_to=len(x), absolute=self.criterion == MAE)
        scale = float(np.max(np.abs(x))) if self.criterion == AICC else 1.0
        scale = scale if np.isfinite(scale) and scale > 0 else 1.0
        if self.init == FITTED:
            err = fitted_run(x / scale, cand, self.m, L, ds, **kw)                 # kw: m2 for a long season
        else:
            err = run(x[None] / scale, cand, self.m, L, ds, **kw)
        if self.criterion == MAE:
            return err
        n = len(x) - first
        floor = 1e-12 * float(np.mean((x / scale) ** 2)) + 1e-300
        aicc = criterion(err, n, k, jacobian, floor)
        if not np.isfinite(aicc).any():                                # too few rows for any penalty
            aicc = criterion(err, n, k, jacobian, floor, penalty=False)
        return aicc + 2 * n * np.log(scale)

    def _candidate(self, c):
        return {k: np.array([v]) for k, v in self.params[c].items() if k not in ("log", "floor", "ar")}

    def _m2(self, c):
        """The long season column c's smoother models: m2, or 1 (none chosen, or a file saved before)."""
        return self.m2 if self.params[c].get("long", 0) else 1

    def _run(self, x, c, L, ds, **kw):
        p = self._candidate(c)
        if self.params[c]["log"]:
            z, back = self._log(x, c, self.params[c]["floor"])
            return run(z, p, self.m, L, ds, back=back, **kw)
        return run(x, p, self.m, L, ds, **kw)

    def _forecasts_and_errors(self, x, c, L, ds, origins, errors=True):
        """Column c's forecasts (len(origins), k) of the steps ds from each origin (the states fitted on the rows before
        it, ``expanding_forecasts``) and the one-step errors r (N,) of the rows of x (N,) (0 before the first origin;
        None with errors=False), without the error correction."""
        p = self._candidate(c)
        z, back = (self._log(x[None], c, self.params[c]["floor"]) if self.params[c]["log"] else (x[None], None))
        f = expanding_forecasts(z[0], p, self.m, L, np.r_[1, ds] if errors else ds, origins, back=back,
                                m2=self._m2(c))[:, 0]
        if not errors:
            return f, None
        r = np.zeros(len(x))
        rows = np.asarray(origins, dtype=np.int64)
        rows = rows[rows < len(x)]                                        # origin t's one-step forecast is row t's
        r[rows] = x[rows] - f[:len(rows), 0]
        return f[:, 1:], r

    def _correction(self, c, ds):
        """Column c's error correction W (p, len(ds)) for the steps ds (a step it was not fitted for: 0), or None.
        Its columns are the steps ``steps`` (default 1..k)."""
        if "ar" not in self.params[c]:
            return None
        W = np.asarray(self.params[c]["ar"], dtype=np.float64)
        steps = self.steps or list(range(1, W.shape[1] + 1))
        out = np.zeros((len(W), len(ds)))
        for j, d in enumerate(ds):
            if int(d) in steps:
                out[:, j] = W[:, steps.index(int(d))]
        return out

    def row_forecasts(self, x, L, ds):
        origins = range(L, len(x) + 1)
        if self.init == FIRST_WINDOW:                                     # a model saved before FITTED existed
            return np.stack([self._run(x[None, :, c], c, L, ds, origins=origins)[0, :, 0]
                             for c in range(x.shape[1])], axis=-1)
        out = []
        for c in range(x.shape[1]):
            W = self._correction(c, ds)
            f, r = self._forecasts_and_errors(x[:, c], c, L, ds, origins, errors=W is not None)
            out.append(f if W is None else f + corrections(r, origins, W))
        return np.stack(out, axis=-1)

    def window_forecasts(self, Xw, ds):
        """(n, k, C) from each window of Xw (n, L, C) alone; the error correction reads the one-step errors of the
        window's rows after its first (the filter started on the window's own first-window states)."""
        n, L, C = Xw.shape
        out = []
        for c in range(C):
            W = self._correction(c, ds)
            if W is None:
                out.append(self._run(Xw[:, :, c], c, L, ds)[:, 0])
                continue
            f = self._run(Xw[:, :, c], c, L, np.r_[1, ds], origins=range(1, L + 1))[:, :, 0]    # (n, L, 1 + k)
            r = np.concatenate([np.zeros((n, 1)), Xw[:, 1:, c] - f[:, :-1, 0]], axis=1)           # (n, L)
            out.append(f[:, -1, 1:] + corrections(r, [L], W)[:, 0])
        return np.stack(out, axis=-1)
