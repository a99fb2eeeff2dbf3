"""DataNormalizer: per-column scaling with an exact inverse.

Strategies (``config['method']``):

=============  ==========================================  ===================================
method         transform (per column)                      inverse
=============  ==========================================  ===================================
zscore         (x - mean) / std                            y * std + mean
minmax         (x - min) / (max - min) * (b - a) + a       ...  (``feature_range`` = (a, b))
robust         (x - median) / IQR                          y * IQR + median
maxabs         x / max|x|                                  y * max|x|
log            log(x - shift), shift = 0 if x > 0 else     exp(y) + shift
               min(x) - 1 (fitted)
diff           y_0 = x_0 - x_ref, y_t = x_t - x_{t-1}      x_ref + cumsum(y)
pct_change     y_0 = x_0 / x_ref - 1, y_t = x_t/x_{t-1}-1  x_ref * cumprod(1 + y)
power          Yeo-Johnson (or Box-Cox for positive data,  inverse power, then unstandardise
               ``power_method='box-cox'``), lambda by
               maximum likelihood, then standardised
=============  ==========================================  ===================================

x_ref is the first row of the data the normalizer was fitted on, so ``diff`` and
``pct_change`` invert exactly on any series that starts where the fit data
started (in particular ``inverse_transform(transform(X)) == X``). A constant
column gets scale 1 (no NaN). NaN or Inf input is rejected. Arrays in, arrays
out; a pandas DataFrame or Series in, the same kind out.
"""
import numpy as np

from ..errors import ConfigError, DataError, NotFittedError, ShapeError

METHODS = ("zscore", "minmax", "robust", "maxabs", "log", "diff", "pct_change", "power")
ROW_WISE = ("zscore", "minmax", "robust", "maxabs", "log", "power")  # each row transformed on its own


def _safe_scale(s):
    s = np.asarray(s, dtype=np.float64)
    return np.where((s > 0) & np.isfinite(s), s, 1.0)


def _yeo_johnson(x, lam):
    out = np.empty_like(x)
    pos = x >= 0
    if abs(lam) > 1e-12:
        out[pos] = ((x[pos] + 1) ** lam - 1) / lam
    else:
        out[pos] = np.log1p(x[pos])
    if abs(lam - 2) > 1e-12:
        out[~pos] = -((1 - x[~pos]) ** (2 - lam) - 1) / (2 - lam)
    else:
        out[~pos] = -np.log1p(-x[~pos])
    return out


def _yeo_johnson_inv(y, lam):
    out = np.empty_like(y)
    pos = y >= 0
    if abs(lam) > 1e-12:
        out[pos] = (y[pos] * lam + 1) ** (1 / lam) - 1
    else:
        out[pos] = np.expm1(y[pos])
    if abs(lam - 2) > 1e-12:
        out[~pos] = 1 - (1 - (2 - lam) * y[~pos]) ** (1 / (2 - lam))
    else:
        out[~pos] = -np.expm1(-y[~pos])
    return out


def _box_cox(x, lam):
    return np.log(x) if abs(lam) < 1e-12 else (x ** lam - 1) / lam


def _box_cox_inv(y, lam):
    return np.exp(y) if abs(lam) < 1e-12 else (y * lam + 1) ** (1 / lam)


def _fit_lambda(x, method):
    """Maximum-likelihood lambda on a grid then golden-section refinement in [-3, 3]."""
    n = x.size

    def nll(lam):
        with np.errstate(all="ignore"):
            y = _yeo_johnson(x, lam) if method == "yeo-johnson" else _box_cox(x, lam)
            var = y.var()
            if not np.isfinite(var) or var <= 0:
                return np.inf
            jac = (lam - 1) * (np.sign(x) * np.log1p(np.abs(x))).sum() if method == "yeo-johnson" \
                else (lam - 1) * np.log(x).sum()
            return 0.5 * n * np.log(var) - jac

    grid = np.linspace(-3, 3, 61)
    vals = [nll(l) for l in grid]
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float((lo + hi) / 2)


class DataNormalizer:
    """Per-column normalizer. ``DataNormalizer({'method': 'zscore'})`` or ``DataNormalizer('minmax')``.

    config keys: method (one of METHODS, default 'zscore'), feature_range (minmax, default (0, 1)),
    power_method ('yeo-johnson' default, or 'box-cox' for strictly positive data).
    """

    def __init__(self, config=None):
        if config is None:
            config = {}
        if isinstance(config, str):
            config = {"method": config}
        if not isinstance(config, dict):
            raise ConfigError(f"DataNormalizer config must be a dict or a method name, got {type(config).__name__}.")
        unknown = set(config) - {"method", "feature_range", "power_method"}
        if unknown:
            raise ConfigError(f"unknown DataNormalizer keys {sorted(unknown)}; valid: method, feature_range, "
                              "power_method.")
        self.method = config.get("method", "zscore")
        if self.method not in METHODS:
            raise ConfigError(f"unknown normalization method {self.method!r}; choose one of {METHODS}.")
        fr = tuple(config.get("feature_range", (0.0, 1.0)))
        if len(fr) != 2 or not fr[0] < fr[1]:
            raise ConfigError(f"feature_range must be (low, high) with low < high, got {fr}.")
        self.feature_range = (float(fr[0]), float(fr[1]))
        self.power_method = config.get("power_method", "yeo-johnson")
        if self.power_method not in ("yeo-johnson", "box-cox"):
            raise ConfigError("power_method must be 'yeo-johnson' or 'box-cox'.")
        self.state = None

    # ---- array plumbing -------------------------------------------------------------
    def _to_array(self, X, fitting=False):
        self._frame = None
        if hasattr(X, "to_numpy") and hasattr(X, "ndim"):  # pandas DataFrame or Series
            self._frame = (type(X), getattr(X, "index", None), getattr(X, "columns", None), getattr(X, "name", None))
            X = X.to_numpy()
        try:
            A = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise DataError(f"normalizer input must be numeric; could not convert ({e}). "
                            "Drop or encode non-numeric columns first.") from None
        if A.ndim not in (1, 2):
            raise ShapeError(f"normalizer input must be 1-D or 2-D (samples, columns), got {A.ndim}-D.")
        if A.shape[0] == 0:
            raise DataError("normalizer input is empty.")
        if not np.isfinite(A).all():
            bad = np.argwhere(~np.isfinite(A.reshape(A.shape[0], -1)))[0]
            raise DataError(f"normalizer input contains NaN or Inf (first at row {bad[0]}, column {bad[1]}); "
                            "fill or drop missing values first.")
        self._was_1d = A.ndim == 1
        A2 = A.reshape(A.shape[0], -1)
        if not fitting and self.state is not None and A2.shape[1] != self.state["n_columns"]:
            raise ShapeError(f"normalizer was fitted on {self.state['n_columns']} columns, got {A2.shape[1]}.")
        return A2

    def _from_array(self, A):
        out = A[:, 0] if self._was_1d else A
        if self._frame is not None:
            kind, index, columns, name = self._frame
            import pandas as pd
            if kind.__name__ == "Series":
                return pd.Series(out if out.ndim == 1 else out[:, 0], index=index, name=name)
            return pd.DataFrame(out.reshape(len(out), -1), index=index, columns=columns)
        return out

    # ---- API ----------------------------------------------------------------------------
    def fit(self, X):
        A = self._to_array(X, fitting=True)
        m = self.method
        st = {"n_columns": A.shape[1]}
        if m == "zscore":
            st["center"], st["scale"] = A.mean(0), _safe_scale(A.std(0))
        elif m == "minmax":
            st["center"], st["scale"] = A.min(0), _safe_scale(A.max(0) - A.min(0))
        elif m == "robust":
            q1, med, q3 = np.percentile(A, [25, 50, 75], axis=0)
            st["center"], st["scale"] = med, _safe_scale(q3 - q1)
        elif m == "maxabs":
            st["center"], st["scale"] = np.zeros(A.shape[1]), _safe_scale(np.abs(A).max(0))
        elif m == "log":
            mn = A.min(0)
            st["shift"] = np.where(mn > 0, 0.0, mn - 1.0)
        elif m in ("diff", "pct_change"):
            if m == "pct_change" and (A == 0).any():
                raise DataError("pct_change needs nonzero values (x_t / x_{t-1}); use 'diff' or 'log' instead.")
            st["ref"] = A[0].copy()
        elif m == "power":
            if self.power_method == "box-cox" and (A <= 0).any():
                raise DataError("Box-Cox needs strictly positive data; use power_method='yeo-johnson'.")
            lams = []
            for j in range(A.shape[1]):
                col = A[:, j]
                lams.append(0.0 if np.ptp(col) == 0 else _fit_lambda(col, self.power_method))
            st["lambdas"] = np.array(lams)
            T = self._power(A, st["lambdas"])
            st["center"], st["scale"] = T.mean(0), _safe_scale(T.std(0))
        self.state = st
        return self

    def _power(self, A, lams, inverse=False):
        f = {("yeo-johnson", False): _yeo_johnson, ("yeo-johnson", True): _yeo_johnson_inv,
             ("box-cox", False): _box_cox, ("box-cox", True): _box_cox_inv}[(self.power_method, inverse)]
        return np.column_stack([f(A[:, j], lams[j]) for j in range(A.shape[1])])

    def _check_fitted(self):
        if self.state is None:
            raise NotFittedError("DataNormalizer is not fitted: call fit(X) or fit_transform(X) first.")

    def transform(self, X):
        self._check_fitted()
        A = self._to_array(X)
        st, m = self.state, self.method
        if m in ("zscore", "minmax", "robust", "maxabs"):
            Y = (A - st["center"]) / st["scale"]
            if m == "minmax":
                a, b = self.feature_range
                Y = Y * (b - a) + a
        elif m == "log":
            if (A <= st["shift"]).any():
                raise DataError(f"log normalizer: values must exceed the fitted shift {st['shift'].tolist()}; "
                                "refit on data that covers this range.")
            Y = np.log(A - st["shift"])
        elif m == "diff":
            Y = np.diff(A, axis=0, prepend=st["ref"][None, :])
        elif m == "pct_change":
            if (A == 0).any():
                raise DataError("pct_change needs nonzero values.")
            prev = np.vstack([st["ref"][None, :], A[:-1]])
            Y = A / prev - 1.0
        else:  # power
            if self.power_method == "box-cox" and (A <= 0).any():
                raise DataError("Box-Cox needs strictly positive data.")
            Y = (self._power(A, st["lambdas"]) - st["center"]) / st["scale"]
        return self._from_array(Y)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Y):
        self._check_fitted()
        A = self._to_array(Y)
        st, m = self.state, self.method
        if m in ("zscore", "robust", "maxabs"):
            X = A * st["scale"] + st["center"]
        elif m == "minmax":
            a, b = self.feature_range
            X = (A - a) / (b - a) * st["scale"] + st["center"]
        elif m == "log":
            X = np.exp(A) + st["shift"]
        elif m == "diff":
            X = st["ref"] + np.cumsum(A, axis=0)
        elif m == "pct_change":
            X = st["ref"] * np.cumprod(1.0 + A, axis=0)
        else:
            X = self._power(A * st["scale"] + st["center"], st["lambdas"], inverse=True)
        return self._from_array(X)

    def to_dict(self):
        """JSON-serialisable state (lists, floats, strings)."""
        d = {"method": self.method, "feature_range": list(self.feature_range), "power_method": self.power_method,
             "state": None}
        if self.state is not None:
            d["state"] = {k: np.asarray(v).tolist() for k, v in self.state.items()}
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild a normalizer from ``to_dict`` output (bad input: ConfigError)."""
        try:
            n = cls({"method": d["method"], "feature_range": tuple(d["feature_range"]),
                     "power_method": d.get("power_method", "yeo-johnson")})
            if d.get("state") is not None:
                n.state = {k: (int(v) if k == "n_columns" else np.asarray(v, dtype=np.float64))
                           for k, v in d["state"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"not a DataNormalizer dict ({type(e).__name__}: {e}); use DataNormalizer.to_dict() "
                              "output.") from None
        return n

    def __repr__(self):
        return f"DataNormalizer(method={self.method!r}, fitted={self.state is not None})"
