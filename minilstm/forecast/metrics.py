"""Forecast metrics in original units, and the baselines a forecaster must beat.

Every metric is computed per target column and then averaged (MAPE over nonzero
targets only, reporting how many were excluded).
"""
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
    return np.abs(np.diff(y, axis=0)).mean(0) if len(y) > 1 else np.ones(y.shape[1])


def infer_season(y, max_lag=None):
    """The lag in [2, max_lag] with the highest autocorrelation of the first column (None if too short)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    n = len(y)
    max_lag = min(max_lag or n // 3, n // 2)
    if max_lag < 2:
        return None
    z = y - y.mean()
    if not np.any(z):
        return None
    den = (z * z).sum()
    acf = np.array([(z[k:] * z[:-k]).sum() / den for k in range(2, max_lag + 1)])
    # prefer the first peak that stands out: the lag of the largest autocorrelation beyond the start
    return int(np.argmax(acf) + 2)


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


def format_table(results, units=""):
    """A plain-text table: one row per method (model first), RMSE, MAE, MAPE, sMAPE, R2, MASE."""
    u = f" ({units})" if units else ""
    lines = [f"{'method':<26}{'RMSE' + u:>16}{'MAE' + u:>16}{'MAPE %':>9}{'sMAPE %':>9}{'R2':>8}{'MASE':>7}"]
    for name, m in results.items():
        lines.append(f"{name:<26}{m['rmse']:>16.3f}{m['mae']:>16.3f}{m['mape']:>9.2f}{m['smape']:>9.2f}"
                     f"{m['r2']:>8.3f}{m['mase']:>7.3f}")
    return "\n".join(lines)
