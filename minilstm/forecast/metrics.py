"""Forecast metrics in original units, and the baselines a forecaster must beat.

Every metric is computed per target column and then averaged (MAPE over nonzero
targets only, reporting how many were excluded).
"""
from statistics import NormalDist

import numpy as np

from .windows import target_rows


def regression_metrics(y_true, y_pred, mase_scale=None):
    """y_true, y_pred: (n, T) or (n, steps, T) in original units; mase_scale: (T,) in-sample naive MAE.

    Returns dict: mse, rmse, mae, mape (%), smape (%), r2, mase, mape_excluded (count of zero targets).
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    T = yt.shape[-1]
    yt, yp = yt.reshape(-1, T), yp.reshape(-1, T)
    err = yp - yt
    mse = (err ** 2).mean(0)
    mae = np.abs(err).mean(0)
    nz = yt != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(nz, np.abs(err) / np.abs(np.where(nz, yt, 1.0)), np.nan)
        mape = np.array([np.nanmean(ape[:, j]) * 100 if nz[:, j].any() else np.nan for j in range(T)])
        denom = np.abs(yt) + np.abs(yp)
        smape_terms = np.where(denom > 0, 2 * np.abs(err) / np.where(denom > 0, denom, 1.0), 0.0)
        var = ((yt - yt.mean(0)) ** 2).sum(0)
        r2 = np.where(var > 0, 1 - (err ** 2).sum(0) / np.where(var > 0, var, 1.0), np.nan)
    out = {"mse": float(mse.mean()), "rmse": float(np.sqrt(mse).mean()), "mae": float(mae.mean()),
           "mape": float(np.nanmean(mape)) if np.isfinite(mape).any() else float("nan"),
           "smape": float(smape_terms.mean() * 100), "r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else
           float("nan"), "mape_excluded": int((~nz).sum())}
    if mase_scale is not None:
        s = np.where(np.asarray(mase_scale) > 0, mase_scale, np.nan)
        out["mase"] = float(np.nanmean(mae / s)) if np.isfinite(s).any() else float("nan")
    else:
        out["mase"] = float("nan")
    return out


def naive_scale(y):
    """In-sample one-step persistence MAE per column: mean |y_t - y_{t-1}| (the MASE denominator)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(y) < 2:
        return np.ones(y.shape[1])
    s = np.abs(y).max(0)
    s = np.where(s > 0, s, 1.0)                         # scaled: no overflow in the sum near 1e308
    with np.errstate(over="ignore"):                    # a mean step beyond the float range is inf
        return np.abs(np.diff(y / s, axis=0)).mean(0) * s


def training_mean(y):
    """Per-column mean of y (N, T) as a list, without overflow near the top of the float range."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    s = np.abs(y).max(0)
    s = np.where(s > 0, s, 1.0)
    return ((y / s).mean(0) * s).tolist()


def season_info(y, index=None, season=None):
    """{'season', 'season_how'} for a model's info, from ``choose_season`` on the training targets."""
    s, how = choose_season(y, index=index, season=season)
    return {"season": s, "season_how": how}


def autocorrelation(z, max_lag):
    """Sample autocorrelation r_0..r_max_lag of a 1-D series (biased estimator, by FFT). Returns (max_lag + 1,)
    (NaN for a constant series)."""
    z = np.asarray(z, dtype=np.float64)
    z = z / max(np.abs(z).max(), np.finfo(np.float64).tiny)            # scale first: no overflow near 1e308
    z = z - z.mean()
    n = len(z)
    f = np.fft.rfft(z, 2 * n)
    a = np.fft.irfft(f * np.conj(f), 2 * n)[:max_lag + 1]
    return a / a[0] if a[0] > 0 else np.full_like(a, np.nan)      # a constant series has no ACF


def _acf_peak(z, max_lag, first=1):
    """The seasonal lag in the ACF of z (n,), or None: see ``infer_season``. ``first``: the first lag
    whose crossing counts (2 on a differenced series, whose lag 1 differencing alone makes negative)."""
    n = len(z)
    r = autocorrelation(z, max_lag)
    # the search starts after the ACF first crosses zero (a periodic pattern always makes it)
    start = next((k for k in range(first, max_lag) if r[k] <= 0), None)
    if start is None:
        return None
    # null: the short memory up to that crossing, MA(start) -> Bartlett se = sqrt((1 + 2 sum r_j^2) / n)
    se = np.sqrt((1 + 2 * np.sum(r[1:start + 1] ** 2)) / n)
    z_crit = NormalDist().inv_cdf(1 - 0.05 / max(max_lag - start, 1))   # Bonferroni over the lags searched
    k = np.arange(start + 1, max_lag)
    peaks = k[(r[k] > r[k - 1]) & (r[k] >= r[k + 1]) & (r[k] > max(0.1, z_crit * se))]
    if len(peaks) == 0:
        return None
    best = int(peaks[np.argmax(r[peaks])])
    # prefer the fundamental: the shortest significant peak that the best is a multiple of, nearly as high
    for p in peaks:
        q = round(best / p)
        if p < best and abs(best - q * p) <= max(1, 0.02 * best) and r[p] >= 0.6 * r[best]:
            best = int(p)
            break
    # the biased estimator pulls a peak towards lag 0 by a factor (n - k) / n: locate it without that
    d = max(1, best // 50)
    lags = np.arange(max(start + 1, best - d), min(max_lag, best + d) + 1)
    return int(lags[np.argmax(r[lags] * n / (n - lags))])


def infer_season(y, max_lag=None):
    """The seasonal period of y's first column from its autocorrelation, or None when there is none.

    y: (N,) or (N, T). A season is a local maximum of the ACF after its first zero crossing or
    crossing, significant at 5% over all the lags searched (Bonferroni) against the series' own
    short memory (Bartlett's standard error from the lags up to that crossing): first on the
    linearly detrended series (a random walk's long memory makes its wandering insignificant),
    then on the differenced series (a cycle on top of a random walk; its lag-1 dip, made by the
    differencing itself, is not taken for the crossing).
    Of the significant peaks, the highest wins, unless a shorter peak of which it is a multiple
    is nearly as high (24 rather than 168 on hourly demand). Smooth series without a cycle (a
    random walk, an AR(1)) have no such peak: None, and the caller uses persistence. The lags
    searched are 2 .. max_lag (default N // 3: at least three seasons of data).
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    n = len(y)
    max_lag = min(max_lag or n // 3, n // 3)
    if max_lag < 3 or not np.all(np.isfinite(y)) or not np.any(y):
        return None
    y = y / np.abs(y).max()                                              # the ACF does not depend on scale
    t = np.arange(n, dtype=np.float64)
    for z, first in ((y - np.polyval(np.polyfit(t, y, 1), t), 1), (np.diff(y), 2)):
        if np.ptp(z) <= 1e-12 * max(1.0, np.abs(y).max()):
            continue
        lag = _acf_peak(z, min(max_lag, len(z) // 3), first)
        if lag is not None and lag >= 2:
            return lag
    return None


# season implied by the spacing of a datetime index: (spacing in seconds, tolerance, season, name)
_FREQ_SEASONS = [
    (60, 0, 1440, "minutely: daily cycle"), (300, 0, 288, "5-minutely: daily cycle"),
    (600, 0, 144, "10-minutely: daily cycle"), (900, 0, 96, "15-minutely: daily cycle"),
    (1800, 0, 48, "half-hourly: daily cycle"), (3600, 0, 24, "hourly: daily cycle"),
    (86400, 0, 7, "daily: weekly cycle"), (7 * 86400, 0, 52, "weekly: yearly cycle"),
    (30.44 * 86400, 3.5 * 86400, 12, "monthly: yearly cycle"),
    (91.3 * 86400, 4 * 86400, 4, "quarterly: yearly cycle"),
]


def _datetime_values(index):
    """A DatetimeIndex or datetime64 array -> datetime64[s] wall-clock values (N,), or None."""
    if index is None:
        return None
    if getattr(index, "tz", None) is not None:          # pandas tz-aware: local wall-clock time
        index = index.tz_localize(None)
    try:
        a = np.asarray(index)
    except Exception:
        return None
    if a.ndim != 1 or a.dtype.kind != "M" or len(a) < 3:
        return None
    a = a.astype("datetime64[s]")
    return a if not np.isnat(a).any() else None


def season_from_index(index):
    """(season, name) implied by a datetime index's spacing, e.g. (24, 'hourly: daily cycle'); (None, '') if unknown.

    index: DatetimeIndex or datetime64 array (N,). The median spacing decides (so the repeated
    or skipped hour of a daylight-saving change does not). Daily data without Saturdays and
    Sundays are business-daily: season 5.
    """
    a = _datetime_values(index)
    if a is None:
        return None, ""
    step = float(np.median(np.diff(a).astype(np.int64)))
    for sec, tol, season, name in _FREQ_SEASONS:
        if abs(step - sec) <= tol:
            if season == 7:
                dow = (a.astype("datetime64[D]").astype(np.int64) + 3) % 7     # 0 = Monday
                if len(a) >= 10 and not np.any(dow >= 5):
                    return 5, "business-daily: weekly cycle"
            return season, name
    return None, ""


def datetime_hint(*objs):
    """The first of objs (pandas objects, DatetimeIndex, datetime64 arrays) that tells a season, or None."""
    for o in objs:
        if o is None:
            continue
        attrs = getattr(o, "attrs", None)
        if isinstance(attrs, dict) and attrs.get("season"):
            return o
        if _datetime_values(getattr(o, "index", o) if hasattr(o, "attrs") else o) is not None:
            return o
    return None


def choose_season(y, index=None, season=None, n_rows=None):
    """The season of the seasonal-naive baseline and how it was chosen: (season, how).

    y: (N,) or (N, T) training targets; index: a DatetimeIndex, a datetime64 array, or a pandas
    object carrying one (``attrs['season']``, set by the bundled datasets' ``frame``, is used
    first); season: a configured season (wins). Order: configured -> the data's own season ->
    the index's frequency -> ``infer_season`` -> persistence (season 1). With ``n_rows`` (the
    rows the baseline will see), a season that no target can reach falls back to persistence.
    ``how`` is a short phrase for the evaluation table.
    """
    if season is not None and not isinstance(season, bool) and int(season) >= 1:
        s, how = int(season), "configured"
    else:
        s, how = None, ""
        attrs = getattr(index, "attrs", None)
        if isinstance(attrs, dict) and attrs.get("season"):
            s, how = int(attrs["season"]), f"the {attrs.get('name', 'dataset')} dataset's season"
        if s is None:
            s, name = season_from_index(getattr(index, "index", index) if attrs is not None else index)
            how = f"from the DatetimeIndex frequency ({name})" if s else ""
        if s is None:
            y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            s = infer_season(y2)
            how = "inferred from the autocorrelation" if s else ""
        if s is None:
            return 1, "persistence: no seasonal peak found in the autocorrelation"
    if n_rows is not None and s > 1 and s >= n_rows:
        return 1, f"persistence: season {s} ({how}) needs more than {s} rows, got {n_rows}"
    return s, how


def persistence_forecast(y, n, L, horizon, steps=1):
    """The last known target at forecast time: y[j+L-1] for window j (y[j+L-2] when horizon = 0).

    y: (N, T) in original units. Returns (n, steps, T).
    """
    last = np.arange(n) + L - 1 - (1 if horizon == 0 else 0)
    return np.repeat(y[np.maximum(last, 0)][:, None, :], steps, axis=1)


def seasonal_naive_forecast(y, n, L, horizon, season, steps=1):
    """The value one (or more) whole seasons before each target, never later than the last known row.

    Rows whose seasonal lag falls before the start of y use persistence instead. Returns (n, steps, T).
    """
    rows = target_rows(n, L, horizon, steps)
    lead = np.maximum(horizon + np.arange(steps), 1)[None, :]
    back = season * np.ceil(lead / season).astype(int)
    src = rows - back
    fallback = persistence_forecast(y, n, L, horizon, steps)
    out = y[np.maximum(src, 0)]
    out[src < 0] = fallback[src < 0]
    return out


class LinearAR:
    """Linear autoregression on the same windows: target = [flattened window, 1] @ coef, by least squares.

    Inputs are standardised column-wise before solving (conditioning); a tiny ridge term keeps
    collinear calendar features solvable. Works in whatever units it is given.
    """

    def __init__(self, ridge=1e-6):
        self.ridge = ridge
        self.coef = self.mu = self.sd = None

    def _design(self, Xw):
        Z = (Xw.reshape(len(Xw), -1) - self.mu) / self.sd
        return np.hstack([Z, np.ones((len(Z), 1))])

    def fit(self, Xw, Y):
        """Xw: (n, L, F) windows; Y: (n, outputs)."""
        flat = Xw.reshape(len(Xw), -1).astype(np.float64)
        self.mu, self.sd = flat.mean(0), np.where(flat.std(0) > 0, flat.std(0), 1.0)
        A = self._design(Xw)
        reg = self.ridge * len(A) * np.eye(A.shape[1])
        reg[-1, -1] = 0.0
        self.coef = np.linalg.solve(A.T @ A + reg, A.T @ np.asarray(Y, dtype=np.float64))
        return self

    def predict(self, Xw):
        return self._design(Xw) @ self.coef

    def to_arrays(self):
        return {"ar_coef": self.coef, "ar_mu": self.mu, "ar_sd": self.sd}

    @classmethod
    def from_arrays(cls, arrays):
        m = cls()
        m.coef, m.mu, m.sd = arrays["ar_coef"], arrays["ar_mu"], arrays["ar_sd"]
        return m


def looks_like_returns(y):
    """True when y (N,) or (N, T) behaves like returns: mean near zero for its spread, and the sign
    changes often (|mean| < 0.2 std and more than a quarter of consecutive pairs change sign)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(y) < 10:
        return False
    sd = y.std(0)
    flips = (np.sign(y[1:]) * np.sign(y[:-1]) < 0).mean(0)
    return bool(np.all((sd > 0) & (np.abs(y.mean(0)) < 0.2 * sd) & (flips > 0.25)))


def units_of(*objs):
    """Units recorded on pandas objects (``attrs['units']``: a string, or a dict by column name), else ''."""
    for o in objs:
        u = getattr(o, "attrs", {}).get("units") if isinstance(getattr(o, "attrs", None), dict) else None
        if isinstance(u, str):
            return u
        if isinstance(u, dict):
            names = [getattr(o, "name", None)] if getattr(o, "ndim", 2) == 1 else list(getattr(o, "columns", []))
            found = {u[c] for c in names if c in u}
            if len(found) == 1:
                return found.pop()
    return ""


def seasonal_coverage(n, L, horizon, season, steps=1):
    """How many of the n * steps targets have a value a whole season (or more) before them."""
    rows = target_rows(n, L, horizon, steps)
    lead = np.maximum(horizon + np.arange(steps), 1)[None, :]
    return int(np.sum(rows - season * np.ceil(lead / season) >= 0))


_LABELS = {"mean": "mean (training)"}    # table rows are the baselines' dict keys


class EvaluationReport(dict):
    """The result of ``LSTMModel.evaluate``: a dict (``r['rmse']``, ``r['baselines']['persistence']``)
    that displays as the evaluation table (``print(r)``, a Jupyter cell's last line, ``repr``).

    Keys: the model's metrics (mse, rmse, mae, mape, smape, r2, mase, mape_excluded), n_scored,
    ``baselines`` {name: metrics}, season, season_how, units, notes (list of str); for a model of
    output_steps k > 1 these pool all k steps, and ``per_step`` is a list of k dicts (step 1..k), each
    the model's metrics for that step alone with its own ``baselines``.
    """

    def rows(self):
        """{label: metrics} in table order: the model first, then every baseline."""
        out = {"LSTM (minilstm)": self}
        for name, m in self.get("baselines", {}).items():
            label = _LABELS.get(name, name)
            if name == "seasonal_naive":
                label += f" ({self.get('season', '?')})"
            out[label] = m
        return out

    def footer(self):
        """Lines under the table: the season and how it was chosen, then the notes."""
        lines = []
        if "season" in self:
            lines.append(f"seasonal naive: season {self['season']}, {self.get('season_how', '')}".rstrip(", "))
        if self.get("mape_excluded"):
            lines.append(f"MAPE excludes {self['mape_excluded']} zero target(s)")
        return lines + list(self.get("notes", []))

    def step_table(self, metric="rmse"):
        """One line per step ahead: ``metric`` of the model and of each baseline (empty for one step)."""
        if not self.get("per_step"):
            return ""
        names = list(self["per_step"][0]["baselines"])
        w = max(12, *(len(n) + 2 for n in names))
        lines = [f"{metric.upper()} by step ahead" + (f" ({self['units']})" if self.get("units") else ""),
                 f"{'step':>4}{'LSTM':>{w}}" + "".join(f"{n:>{w}}" for n in names)]
        for row in self["per_step"]:
            lines.append(f"{row['step']:>4}{row[metric]:>{w}.4g}" +
                         "".join(f"{row['baselines'][n][metric]:>{w}.4g}" for n in names))
        return "\n".join(lines)

    def table(self):
        """The plain-text table (units in the headers) with its footer; by step too when there are several."""
        head = f"{self.get('n_scored', '?')} targets scored" + (f", in {self['units']}" if self.get("units") else "")
        steps = f", pooled over {len(self['per_step'])} steps ahead" if self.get("per_step") else ""
        by_step = [self.step_table()] if self.get("per_step") else []
        return "\n".join([head + steps, format_table(self.rows(), self.get("units", "")), *self.footer(),
                          *by_step])

    def show(self):
        """Print the table (once: a Jupyter cell ending with the call that printed it shows nothing more)."""
        print(self.table())
        self._shown_in = _execution_count()

    __str__ = table

    def __repr__(self):
        return self.table()

    def _repr_pretty_(self, p, cycle):
        p.text(self.table() if not cycle else "EvaluationReport(...)")

    def _repr_html_(self):
        u = f" ({self['units']})" if self.get("units") else ""
        cols = ["RMSE" + u, "MAE" + u, "MAPE %", "sMAPE %", "R2", "MASE"]
        keys, fmt = ["rmse", "mae", "mape", "smape", "r2", "mase"], [".3f", ".3f", ".2f", ".2f", ".3f", ".3f"]
        body = "".join(f"<tr><th style='text-align:left'>{_html(name)}</th>"
                       + "".join(f"<td>{m[k]:{f}}</td>" for k, f in zip(keys, fmt)) + "</tr>"
                       for name, m in self.rows().items())
        foot = "".join(f"<br>{_html(line)}" for line in self.footer())
        head = "".join(f"<th>{_html(c)}</th>" for c in ["method", *cols])
        cap = _html(self.table().splitlines()[0])
        return (f"<table><caption style='text-align:left'>{cap}</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><small>{foot[4:]}</small>")

    def _ipython_display_(self):
        from IPython.display import display
        if getattr(self, "_shown_in", None) is not None and self._shown_in == _execution_count():
            self._shown_in = None                  # printed by this very cell already: show it once
            return
        display({"text/plain": self.table(), "text/html": self._repr_html_()}, raw=True)


def _html(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _execution_count():
    """IPython's current execution count, or None outside IPython."""
    import sys
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
    return getattr(shell, "execution_count", None) if shell is not None else None


def evaluation_report(truth, pred, y, n, L, horizon, steps, scale, ar_pred, season, how, y_mean=None, units=""):
    """Score a model and every baseline on the same targets: an ``EvaluationReport``.

    truth, pred, ar_pred: (n, steps, T) in y's units; y: (N, T) the rows evaluated; scale: (T,)
    MASE denominators; season, how: from ``choose_season`` (re-checked against these rows);
    y_mean: (T,) training mean of the targets (the 'mean' baseline; omitted when None).
    Baselines: persistence, seasonal_naive, linear_ar, mean, zero.
    """
    season = int(season or 1)
    notes = []
    reach = seasonal_coverage(n, L, horizon, season, steps) if season > 1 else n * steps
    if season > 1 and reach == 0:
        season, how = 1, (f"persistence: season {season} ({how}) needs more than {season} rows before a target, "
                            f"got {len(y)} rows")
    elif reach < n * steps:
        notes.append(f"the first {n * steps - reach} of {n * steps} targets have no value a season earlier "
                     "and use persistence there")
    res = EvaluationReport(regression_metrics(truth, pred, scale))
    base = {"persistence": persistence_forecast(y, n, L, horizon, steps),
            "seasonal_naive": seasonal_naive_forecast(y, n, L, horizon, season, steps),
            "linear_ar": ar_pred}
    if y_mean is not None:
        base["mean"] = np.broadcast_to(np.asarray(y_mean, dtype=np.float64), truth.shape)
    base["zero"] = np.zeros_like(truth)
    res["baselines"] = {k: regression_metrics(truth, v, scale) for k, v in base.items()}
    if steps > 1:          # the pooled figures above, then each step ahead on its own
        res["per_step"] = [{**regression_metrics(truth[:, [j]], pred[:, [j]], scale), "step": j + 1,
                            "baselines": {k: regression_metrics(truth[:, [j]], v[:, [j]], scale)
                                          for k, v in base.items()}} for j in range(steps)]
    res["n_scored"] = int(truth.size)
    res["season"], res["season_how"], res["units"] = season, how, units or ""
    if looks_like_returns(y):
        notes.append("y looks like returns (mean near zero, frequent sign changes): persistence is a weak "
                     "baseline here; compare with zero and the training mean")
    res["notes"] = notes
    return res


def format_table(results, units=""):
    """A plain-text table: one row per method (model first), RMSE, MAE, MAPE, sMAPE, R2, MASE."""
    u = f" ({units})" if units else ""
    w = max([26] + [len(k) + 2 for k in results])
    lines = [f"{'method':<{w}}{'RMSE' + u:>16}{'MAE' + u:>16}{'MAPE %':>9}{'sMAPE %':>9}{'R2':>8}{'MASE':>7}"]
    for name, m in results.items():
        lines.append(f"{name:<{w}}{m['rmse']:>16.3f}{m['mae']:>16.3f}{m['mape']:>9.2f}{m['smape']:>9.2f}"
                     f"{m['r2']:>8.3f}{m['mase']:>7.3f}")
    return "\n".join(lines)
