"""Forecast metrics in original units: every metric is computed per target column and then averaged (MAPE over
nonzero targets only, reporting how many were excluded); the MASE scale; what the targets look like.

The baselines are in ``baselines``, the season in ``seasons``, the report tables in ``report``.
"""
import numpy as np

from .baselines import persistence_forecast, seasonal_naive_forecast  # noqa: F401  (their first address)


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
