"""DataNormalizer: per-column scaling with an exact inverse.

``DataNormalizer({'strategy': 'zscore'})`` (the documented form), ``DataNormalizer('zscore')``,
``DataNormalizer(strategy='zscore')``; ``'method'`` is accepted as an alias of ``'strategy'``.
``parse_spec`` checks any of these forms and returns the canonical dict.

=============  ==========================================  ===================================
strategy       transform (per column)                      inverse
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
column gets scale 1 (no NaN). Arrays in, arrays out; a pandas DataFrame or
Series in, the same kind out.

Numerics, over the whole float64 range:

- the affine strategies (zscore, minmax, robust, maxabs, and the standardisation
  after ``power``) first divide a column by a power of two ``prescale`` when its
  largest magnitude is above 2**400 or below 2**-400, so that means, variances
  and ranges never overflow or underflow (dividing by a power of two is exact);
- the power lambda is the maximum-likelihood value *within the range where the
  inverse is defined for every real number*: [0, 2] for Yeo-Johnson (outside it the
  transform maps one half-line onto a bounded interval, and a prediction past
  that bound has no preimage) and [0, 3] for Box-Cox, whose inverse maps values
  below -1/lambda (the image of x -> 0+) to 0, the edge of its positive domain;
  the power functions are written with ``log1p``/``expm1`` so tiny values keep
  their precision;
- ``fit`` checks that ``inverse_transform(transform(X))`` returns the fit data
  (relative to each column's largest magnitude) and raises ``DataError`` when
  float64 cannot represent the transform invertibly;
- NaN or Inf input, and any result that would not be finite (a value too far
  outside the fitted range), raise ``DataError`` naming the column and row.
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError, DataError, NotFittedError, ShapeError

STRATEGIES = ("zscore", "minmax", "robust", "maxabs", "log", "diff", "pct_change", "power")
METHODS = STRATEGIES  # the older name of the same tuple
ROW_WISE = ("zscore", "minmax", "robust", "maxabs", "log", "power")  # each row transformed on its own
AFFINE = ("zscore", "minmax", "robust", "maxabs")
POWER_METHODS = ("yeo-johnson", "box-cox")
LAMBDA_RANGE = {"yeo-johnson": (0.0, 2.0), "box-cox": (0.0, 3.0)}
SPEC_KEYS = ("strategy", "feature_range", "power_method")
_SPEC_ALIASES = {"method": "strategy"}
_COMMON_NAMES = {  # names other libraries use -> the minilstm strategy (a hint only, never applied silently)
    "standard": "zscore", "standardize": "zscore", "standardise": "zscore", "z-score": "zscore",
    "z_score": "zscore", "standardscaler": "zscore", "min-max": "minmax", "min_max": "minmax",
    "minmaxscaler": "minmax", "robustscaler": "robust", "max-abs": "maxabs", "max_abs": "maxabs",
    "maxabsscaler": "maxabs", "log1p": "log", "difference": "diff", "differencing": "diff", "returns": "pct_change",
    "pct": "pct_change", "pct-change": "pct_change", "yeo-johnson": "power", "yeo_johnson": "power",
    "box-cox": "power", "boxcox": "power", "box_cox": "power", "powertransformer": "power"}
_BAND = 2.0 ** 400          # columns whose largest magnitude is outside [1/_BAND, _BAND] get a prescale
_STATE_KEYS = {"zscore": ("center", "scale"), "minmax": ("center", "scale"), "robust": ("center", "scale"),
               "maxabs": ("center", "scale"), "log": ("shift",), "diff": ("ref",), "pct_change": ("ref",),
               "power": ("lambdas", "center", "scale")}
_MAX_COLUMNS = 10 ** 7


# ---- the specification --------------------------------------------------------------------------
def _hint(value, choices):
    import difflib
    if not isinstance(value, str):
        return ""
    key = value.strip().lower()
    if key in _COMMON_NAMES:
        g = _COMMON_NAMES[key]
        extra = ", 'power_method': 'box-cox'" if g == "power" and "cox" in key else ""
        return f" (did you mean {{'strategy': {g!r}{extra}}}?)"
    close = difflib.get_close_matches(key, choices, 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _same(a, b):
    try:
        return bool(a == b) if not isinstance(a, (list, tuple, np.ndarray)) else \
            tuple(np.asarray(a).tolist()) == tuple(np.asarray(b).tolist())
    except Exception:
        return False


def _check_feature_range(fr):
    """(low, high) -> a tuple of two floats; refused when reversed, degenerate, non-finite or not two numbers."""
    if isinstance(fr, (str, bytes, Mapping)) or not hasattr(fr, "__len__") or len(fr) != 2:
        raise ConfigError(f"feature_range must be a pair (low, high) of finite numbers with low < high, e.g. "
                          f"(0, 1) or (-1, 1); got {fr!r}.")
    lo, hi = fr[0], fr[1]
    for v in (lo, hi):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise ConfigError(f"feature_range must hold two real numbers, got {fr!r} (a {type(v).__name__} in it).")
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"feature_range must be finite, got ({lo}, {hi}); an infinite bound maps every value to "
                          "inf. Use e.g. (0, 1).")
    if not lo < hi:
        raise ConfigError(f"feature_range must be (low, high) with low < high, got ({lo}, {hi})"
                          + ("; it is reversed: swap the two bounds." if lo > hi else "; the bounds are equal."))
    width = hi - lo
    if not math.isfinite(width) or width < 1e-6 * max(abs(lo), abs(hi)) or width < np.finfo(np.float64).tiny:
        raise ConfigError(f"feature_range ({lo}, {hi}) has a width of {width}, which float64 cannot use to keep "
                          "values apart (or to compute at all); use a range such as (0, 1) or (-1, 1).")
    return lo, hi


def parse_spec(spec=None, **kwargs):
    """Check a DataNormalizer specification and return it as ``{'strategy', 'feature_range', 'power_method'}``.

    spec: None (the defaults: zscore), a strategy name, or a dict with the keys 'strategy' (alias 'method'),
    'feature_range' (minmax, default (0, 1)) and 'power_method' (power: 'yeo-johnson' or 'box-cox').
    Keyword arguments are the same keys. A key given twice with different values (e.g. 'strategy' and
    'method') is an error. Raises ``ConfigError`` saying what is wrong and how to write it.
    """
    if spec is None:
        d = {}
    elif isinstance(spec, str):
        d = {"strategy": spec}
    elif isinstance(spec, Mapping):
        d = dict(spec)
    else:
        raise ConfigError(f"a DataNormalizer setting must be a strategy name such as 'zscore' or a dict such as "
                          f"{{'strategy': 'minmax', 'feature_range': (0, 1)}}, got {type(spec).__name__} {spec!r}.")
    for k, v in kwargs.items():
        if k in d and not _same(d[k], v):
            raise ConfigError(f"{k!r} is given twice with different values ({d[k]!r} and {v!r}); give it once.")
        d[k] = v
    bad = [k for k in d if not isinstance(k, str) or k not in SPEC_KEYS + tuple(_SPEC_ALIASES)]
    if bad:
        import difflib
        hints = []
        for k in bad:
            close = difflib.get_close_matches(k, SPEC_KEYS + tuple(_SPEC_ALIASES), 1) if isinstance(k, str) else []
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"unknown DataNormalizer key(s) {', '.join(hints)}; valid keys: 'strategy' (alias "
                          "'method'), 'feature_range', 'power_method'.")
    if "strategy" in d and "method" in d and not _same(d["strategy"], d["method"]):
        raise ConfigError(f"the DataNormalizer setting names two strategies, 'strategy': {d['strategy']!r} and "
                          f"'method': {d['method']!r} ('method' is an alias of 'strategy'); give only 'strategy'.")
    strategy = d.get("strategy", d.get("method", "zscore"))
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ConfigError(f"unknown normalization strategy {strategy!r}{_hint(strategy, STRATEGIES)}; choose one of "
                          f"{', '.join(STRATEGIES)}.")
    feature_range = _check_feature_range(d.get("feature_range", (0.0, 1.0)))
    power_method = d.get("power_method", "yeo-johnson")
    if not isinstance(power_method, str) or power_method not in POWER_METHODS:
        raise ConfigError(f"power_method must be 'yeo-johnson' (any data) or 'box-cox' (strictly positive data), "
                          f"got {power_method!r}{_hint(power_method, POWER_METHODS)}.")
    return {"strategy": strategy, "feature_range": feature_range, "power_method": power_method}


# ---- numerics -------------------------------------------------------------------------------------
def _prescale(A):
    """A (n, C) -> (C,) powers of two p such that A / p has its largest magnitude in [1/2, 2) (1 when safe)."""
    m = np.abs(A).max(0)
    p = np.ones_like(m)
    out = (m > _BAND) | ((m < 1.0 / _BAND) & (m > 0))
    _, e = np.frexp(m[out])
    p[out] = np.ldexp(1.0, e - 1)
    return p


def _center_scale(S, strategy):
    """S (n, C) prescaled to |S| < 2**401 -> (center, scale), each (C,); scale > 0, constant columns get 1."""
    if strategy == "zscore":
        c, s = S.mean(0), S.std(0)
    elif strategy == "minmax":
        c = S.min(0)
        s = S.max(0) - c
    elif strategy == "robust":
        q1, c, q3 = np.percentile(S, [25, 50, 75], axis=0)
        s = q3 - q1
        s = np.where(s > 2.0 ** -500 * np.abs(S - c).max(0), s, 0.0)   # keeps |(x - median) / IQR| finite
    else:  # maxabs
        c, s = np.zeros(S.shape[1]), np.abs(S).max(0)
    return c, np.where((s > 0) & np.isfinite(s), s, 1.0)


def _yeo_johnson(x, lam):
    """psi(x, lambda): ((x+1)^lam - 1)/lam for x >= 0, -((1-x)^(2-lam) - 1)/(2-lam) for x < 0 (log1p/expm1 form)."""
    out = np.empty_like(x)
    pos = x >= 0
    with np.errstate(over="ignore"):
        out[pos] = np.expm1(lam * np.log1p(x[pos])) / lam if abs(lam) > 1e-12 else np.log1p(x[pos])
        mu = 2.0 - lam
        out[~pos] = -np.expm1(mu * np.log1p(-x[~pos])) / mu if abs(mu) > 1e-12 else -np.log1p(-x[~pos])
    return out


def _yeo_johnson_inv(y, lam):
    """The inverse of psi; NaN or Inf where y lies outside psi's image (only for lambda outside [0, 2])."""
    out = np.empty_like(y)
    pos = y >= 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out[pos] = np.expm1(np.log1p(lam * y[pos]) / lam) if abs(lam) > 1e-12 else np.expm1(y[pos])
        mu = 2.0 - lam
        out[~pos] = -np.expm1(np.log1p(-mu * y[~pos]) / mu) if abs(mu) > 1e-12 else -np.expm1(-y[~pos])
    return out


def _box_cox(x, lam):
    """(x^lam - 1)/lam, log(x) at lambda = 0; x > 0."""
    with np.errstate(over="ignore"):
        return np.log(x) if abs(lam) < 1e-12 else np.expm1(lam * np.log(x)) / lam


def _box_cox_inv(y, lam):
    """(1 + lam*y)^(1/lam): values below -1/lam (lam > 0; the image of x -> 0+) map to 0, the domain's edge."""
    if abs(lam) < 1e-12:
        with np.errstate(over="ignore"):
            return np.exp(y)
    base = lam * y
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.exp(np.log1p(base) / lam)
    if lam > 0:
        out = np.where(base <= -1.0, 0.0, out)
    return out                                           # lam < 0 (files from older versions): NaN past the bound


def _log_var(y):
    """log(var(y)) without overflow (prescaled by a power of two); inf when y is not finite or constant."""
    if not np.isfinite(y).all():
        return np.inf
    p = _prescale(y[:, None])[0]
    v = (y / p).var()
    return 2 * np.log(p) + np.log(v) if v > 0 else np.inf


def _fit_lambda(x, method):
    """Maximum-likelihood lambda within LAMBDA_RANGE[method]: a grid, then golden-section refinement.

    Negative log-likelihood (up to constants): n/2 log var(psi(x, lam)) - (lam - 1) sum sign(x) log1p|x|
    (Yeo-Johnson) or - (lam - 1) sum log x (Box-Cox).
    """
    n = x.size
    jac = (np.sign(x) * np.log1p(np.abs(x))).sum() if method == "yeo-johnson" else np.log(x).sum()
    f = _yeo_johnson if method == "yeo-johnson" else _box_cox

    def nll(lam):
        return 0.5 * n * _log_var(f(x, lam)) - (lam - 1) * jac

    lo0, hi0 = LAMBDA_RANGE[method]
    grid = np.linspace(lo0, hi0, 61)
    vals = np.array([nll(l) for l in grid])
    if not np.isfinite(vals).any():
        return 1.0
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    lam = float((lo + hi) / 2)
    return lam if nll(lam) <= vals[k] else float(grid[k])


_WHY = {
    "zscore": "the value is too far from the fitted mean for float64",
    "minmax": "the value is too far outside the fitted [min, max] for float64",
    "robust": "the value is too far from the fitted median for float64",
    "maxabs": "the value is too large for float64 at the fitted scale",
    "log": "log/exp overflow: the value is outside the range the fitted shift supports",
    "diff": "the difference of consecutive values (or their running sum) overflows float64",
    "pct_change": "the ratio of consecutive values (or their running product) overflows float64",
    "power": "the power transform (or its inverse) overflows float64 this far outside the fitted range",
}


class DataNormalizer:
    """Per-column normalizer. ``DataNormalizer({'strategy': 'zscore'})``, ``DataNormalizer('minmax')`` or
    ``DataNormalizer(strategy='minmax', feature_range=(-1, 1))``.

    Keys: strategy (one of STRATEGIES, default 'zscore'; 'method' is an alias), feature_range (minmax,
    default (0, 1)), power_method ('yeo-johnson' default, or 'box-cox' for strictly positive data).
    """

    def __init__(self, config=None, **kwargs):
        spec = parse_spec(config, **kwargs)
        self.strategy = spec["strategy"]
        self.feature_range = spec["feature_range"]
        self.power_method = spec["power_method"]
        self.state = None
        self._frame = None

    @property
    def method(self):
        """Alias of ``strategy``."""
        return self.strategy

    @property
    def spec(self):
        """The canonical specification: ``{'strategy', 'feature_range', 'power_method'}``."""
        return {"strategy": self.strategy, "feature_range": self.feature_range, "power_method": self.power_method}

    # ---- array plumbing -------------------------------------------------------------
    def _col(self, j):
        cols = self._frame[2] if self._frame is not None else None
        if cols is not None and j < len(cols):
            return f"column {cols[j]!r} (index {j})"
        if self._frame is not None and self._frame[3] is not None:
            return f"column {self._frame[3]!r}"
        return f"column {j}"

    def _to_array(self, X, what):
        self._frame = None
        if hasattr(X, "to_numpy") and hasattr(X, "ndim"):  # pandas DataFrame or Series
            self._frame = (type(X), getattr(X, "index", None), getattr(X, "columns", None), getattr(X, "name", None))
            X = X.to_numpy()
        if X is None or isinstance(X, (str, bytes, Mapping)):
            raise DataError(f"{what} needs numeric data of shape (samples,) or (samples, columns), got "
                            f"{type(X).__name__}.")
        if isinstance(X, np.ma.MaskedArray) and np.ma.getmaskarray(X).any():
            raise DataError(f"{what} got a masked array with masked entries; fill them (X.filled(value)) or drop "
                            "those rows first.")
        try:
            A = np.asarray(X)
            if A.dtype.kind in "USMmVc":
                raise TypeError(f"dtype {A.dtype}")
            A = A.astype(np.float64)
        except OverflowError as e:
            raise DataError(f"{what} got a number too large for float64 ({e}); rescale the data first.") from None
        except (TypeError, ValueError) as e:
            raise DataError(f"{what} needs numeric data; could not read it as real numbers ({e}). Drop or encode "
                            "non-numeric (text, date, complex) columns first.") from None
        if A.ndim not in (1, 2):
            raise ShapeError(f"{what} needs 1-D (samples,) or 2-D (samples, columns) data, got shape {A.shape}.")
        if A.shape[0] == 0 or A.size == 0:
            raise DataError(f"{what} got empty data (shape {A.shape}); pass at least one row and one column.")
        self._was_1d = A.ndim == 1
        A2 = A.reshape(A.shape[0], -1)
        if not np.isfinite(A2).all():
            r, c = np.argwhere(~np.isfinite(A2))[0]
            raise DataError(f"{what}: {self._col(c)} contains NaN or Inf ({A2[r, c]}, first at row {r}); fill or "
                            "drop missing and infinite values first.")
        if what != "fit" and self.state is not None and A2.shape[1] != self.state["n_columns"]:
            raise ShapeError(f"{what}: the normalizer was fitted on {self.state['n_columns']} column(s), got "
                             f"{A2.shape[1]}; pass the same columns as in fit.")
        return A2 if what == "fit" else self._by_name(A2, what)

    def _from_array(self, A):
        if getattr(self, "_order", None) is not None:
            A = A[:, np.argsort(self._order)]                       # back to the caller's column order
        out = A[:, 0] if self._was_1d else A
        if self._frame is not None:
            kind, index, columns, name = self._frame
            import pandas as pd
            if kind.__name__ == "Series":
                return pd.Series(out if out.ndim == 1 else out[:, 0], index=index, name=name)
            return pd.DataFrame(out.reshape(len(out), -1), index=index, columns=columns)
        return out

    def _finite(self, Y, A, what):
        """Y must be finite; otherwise name the column, the row and the input value."""
        bad = ~np.isfinite(Y)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{what} ({self.strategy}): {self._col(c)} row {r} (value {float(A[r, c])!r}) gives a non-finite "
                            f"result: {_WHY[self.strategy]}. Refit the normalizer on data that covers this range, "
                            "or rescale the column first.")
        return Y

    # ---- API ----------------------------------------------------------------------------
    def fit(self, X):
        """Learn the per-column parameters from X (samples,) or (samples, columns); returns self.

        A refused fit (``DataError``) leaves the normalizer as it was.
        """
        A = self._to_array(X, "fit")
        m = self.strategy
        st = {"n_columns": A.shape[1]}
        if m in AFFINE:
            st["prescale"] = _prescale(A)
            st["center"], st["scale"] = _center_scale(A / st["prescale"], m)
        elif m == "log":
            mn = A.min(0)
            gap = np.maximum(1.0, np.abs(mn) * 2.0 ** -30)
            with np.errstate(over="ignore"):
                st["shift"] = np.where(mn > 0, 0.0, mn - gap)
            if not np.isfinite(st["shift"]).all():
                j = int(np.argmin(np.isfinite(st["shift"])))
                raise DataError(f"fit (log): {self._col(j)} reaches {mn[j]}, too close to the float64 limit to shift "
                                "it above zero; rescale the column first (e.g. divide by 1e10).")
        elif m in ("diff", "pct_change"):
            if m == "pct_change" and (A == 0).any():
                r, c = np.argwhere(A == 0)[0]
                raise DataError(f"fit (pct_change): {self._col(c)} is 0 at row {r}; pct_change divides by the "
                                "previous value (x_t / x_{t-1}), so it needs nonzero values. Use 'diff' or 'log'.")
            st["ref"] = A[0].copy()
        elif m == "power":
            if self.power_method == "box-cox" and (A <= 0).any():
                r, c = np.argwhere(A <= 0)[0]
                raise DataError(f"fit (power, box-cox): {self._col(c)} is {A[r, c]} at row {r}; Box-Cox needs "
                                "strictly positive data. Use power_method='yeo-johnson'.")
            st["lambdas"] = np.array([0.0 if A[:, j].min() == A[:, j].max() else _fit_lambda(A[:, j], self.power_method)
                                      for j in range(A.shape[1])])
            T = self._finite(self._power(A, st["lambdas"]), A, "fit")
            st["prescale"] = _prescale(T)
            st["center"], st["scale"] = _center_scale(T / st["prescale"], "zscore")
        old, self.state = self.state, st
        try:
            self._check_round_trip(A)
        except DataError:
            self.state = old                  # a refused fit leaves the normalizer as it was
            raise
        self.columns_ = self._frame_columns()   # a DataFrame's names: later frames are matched by name
        return self

    def _frame_columns(self):
        """The column names of the DataFrame being read (unique), else None."""
        cols = self._frame[2] if self._frame is not None else None
        if cols is None or self._frame[0].__name__ != "DataFrame" or len(set(cols)) != len(cols):
            return None
        return list(cols)

    def _by_name(self, A2, what):
        """A DataFrame given to transform/inverse_transform after a fit on one: its columns in the fitted order (by
        name, as LSTMModel does); ``_from_array`` puts them back in the caller's order."""
        fitted, have = getattr(self, "columns_", None), self._frame_columns()
        self._order = None
        if fitted is None or have is None or have == fitted:
            return A2
        missing, extra = [c for c in fitted if c not in have], [c for c in have if c not in fitted]
        if missing or extra:
            raise DataError(f"{what}: the DataFrame's columns do not match those of fit {fitted}: " +
                            "; ".join(([f"missing {missing}"] if missing else []) +
                                      ([f"unexpected {extra}"] if extra else [])) + ". Pass the same columns.")
        self._order = [have.index(c) for c in fitted]
        return A2[:, self._order]

    def _check_round_trip(self, A):
        """inverse_transform(transform(A)) must give A back, column by column, relative to its largest magnitude."""
        frame = self._frame
        back = self._inverse(self._transform(A, "fit"), "fit")
        self._frame = frame
        tol = max(1e-8, 8.0 * len(A) * np.finfo(np.float64).eps) * np.abs(A).max(0)
        err = np.abs(back - A).max(0)
        bad = np.flatnonzero(~(err <= tol))
        if bad.size:
            j = int(bad[0])
            raise DataError(f"fit ({self.strategy}): {self._col(j)} cannot be transformed invertibly in float64 (the "
                            f"round trip is off by {err[j]:.3g} for values up to {np.abs(A[:, j]).max():.3g}); use "
                            "another strategy (e.g. 'zscore') or rescale the column first.")

    def _power(self, A, lams, inverse=False):
        f = {("yeo-johnson", False): _yeo_johnson, ("yeo-johnson", True): _yeo_johnson_inv,
             ("box-cox", False): _box_cox, ("box-cox", True): _box_cox_inv}[(self.power_method, inverse)]
        return np.column_stack([f(A[:, j], lams[j]) for j in range(A.shape[1])])

    def _check_fitted(self):
        if self.state is None:
            raise NotFittedError("DataNormalizer is not fitted: call fit(X) or fit_transform(X) first.")

    def _transform(self, A, what):
        st, m = self.state, self.strategy
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if m in AFFINE:
                Y = (A / st["prescale"] - st["center"]) / st["scale"]
                if m == "minmax":
                    a, b = self.feature_range
                    Y = Y * (b - a) + a
            elif m == "log":
                if (A <= st["shift"]).any():
                    r, c = np.argwhere(A <= st["shift"])[0]
                    raise DataError(f"{what} (log): {self._col(c)} row {r} is {A[r, c]}, not above the fitted shift "
                                    f"{st['shift'][c]}; refit on data that covers this range.")
                d = A - st["shift"]
                Y = np.where(np.isfinite(d), np.log(d), np.log(A * 0.5 - st["shift"] * 0.5) + math.log(2.0))
            elif m == "diff":
                Y = np.diff(A, axis=0, prepend=st["ref"][None, :])
            elif m == "pct_change":
                if (A == 0).any():
                    r, c = np.argwhere(A == 0)[0]
                    raise DataError(f"{what} (pct_change): {self._col(c)} is 0 at row {r}; pct_change needs nonzero "
                                    "values.")
                prev = np.vstack([st["ref"][None, :], A[:-1]])
                Y = A / prev - 1.0
            else:  # power
                if self.power_method == "box-cox" and (A <= 0).any():
                    r, c = np.argwhere(A <= 0)[0]
                    raise DataError(f"{what} (power, box-cox): {self._col(c)} is {A[r, c]} at row {r}; Box-Cox needs "
                                    "strictly positive data.")
                Y = (self._power(A, st["lambdas"]) / st["prescale"] - st["center"]) / st["scale"]
        return self._finite(Y, A, what)

    def _inverse(self, A, what):
        st, m = self.state, self.strategy
        with np.errstate(over="ignore", invalid="ignore"):
            if m in AFFINE:
                B = A
                if m == "minmax":
                    a, b = self.feature_range
                    B = (A - a) / (b - a)
                X = (B * st["scale"] + st["center"]) * st["prescale"]
            elif m == "log":
                big = A > 700.0
                X = np.where(big, 2.0 * (np.exp(np.where(big, A, 0.0) - math.log(2.0)) + st["shift"] * 0.5),
                             np.exp(np.minimum(A, 700.0)) + st["shift"])
            elif m == "diff":
                X = st["ref"] + np.cumsum(A, axis=0)
            elif m == "pct_change":
                X = st["ref"] * np.cumprod(1.0 + A, axis=0)
            else:
                X = self._power((A * st["scale"] + st["center"]) * st["prescale"], st["lambdas"], inverse=True)
        return self._finite(X, A, what)

    def transform(self, X):
        """X in original units -> normalized, same shape (and pandas type)."""
        self._check_fitted()
        A = self._to_array(X, "transform")
        return self._from_array(self._transform(A, "transform"))

    def fit_transform(self, X):
        """``fit(X)``, then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Y):
        """Normalized values -> original units, same shape (and pandas type)."""
        self._check_fitted()
        A = self._to_array(Y, "inverse_transform")
        return self._from_array(self._inverse(A, "inverse_transform"))

    # ---- state --------------------------------------------------------------------------
    def to_dict(self):
        """JSON-serialisable state (lists, floats, strings); ``from_dict`` reads it back."""
        d = {"strategy": self.strategy, "feature_range": list(self.feature_range), "power_method": self.power_method,
             "state": None}
        if self.state is not None:
            d["state"] = {k: (int(v) if k == "n_columns" else np.asarray(v, dtype=np.float64).tolist())
                          for k, v in self.state.items()}
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild a normalizer from ``to_dict`` output (older dicts with 'method' too); bad input: ConfigError."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a DataNormalizer dict is expected (DataNormalizer.to_dict() output), got "
                              f"{type(d).__name__}.")
        unknown = [k for k in d if k not in SPEC_KEYS + tuple(_SPEC_ALIASES) + ("state",)]
        if unknown:
            raise ConfigError(f"DataNormalizer dict has unknown key(s) {unknown!r}; expected DataNormalizer.to_dict() "
                              "output, with the keys strategy, feature_range, power_method, state.")
        if "strategy" not in d and "method" not in d:
            raise ConfigError("DataNormalizer dict names no strategy (key 'strategy', or 'method' in older files); "
                              "expected DataNormalizer.to_dict() output.")
        n = cls({k: v for k, v in d.items() if k != "state"})
        if d.get("state") is not None:
            n.state = _check_state(d["state"], n.strategy, n.power_method)
        return n

    def __repr__(self):
        return f"DataNormalizer(strategy={self.strategy!r}, fitted={self.state is not None})"


def _check_state(st, strategy, power_method):
    """A state dict from ``to_dict`` -> the fitted state, every key, length and value checked (ConfigError)."""
    if not isinstance(st, Mapping):
        raise ConfigError(f"DataNormalizer state must be a dict, got {type(st).__name__}.")
    required = ("n_columns",) + _STATE_KEYS[strategy]
    optional = ("prescale",) if strategy in AFFINE + ("power",) else ()
    missing = [k for k in required if k not in st]
    unknown = [k for k in st if k not in required + optional]
    if missing or unknown:
        raise ConfigError(f"DataNormalizer state for {strategy!r} " +
                          (f"lacks {missing}" if missing else "") + (" and " if missing and unknown else "") +
                          (f"has unknown keys {unknown}" if unknown else "") +
                          f"; expected {list(required + optional)}. The file or dict is truncated, edited or foreign.")
    nc = st["n_columns"]
    if isinstance(nc, (bool, np.bool_)) or not isinstance(nc, numbers.Integral) or not 1 <= nc <= _MAX_COLUMNS:
        raise ConfigError(f"DataNormalizer state: n_columns must be an integer in [1, {_MAX_COLUMNS}], got {nc!r}.")
    out = {"n_columns": int(nc)}
    for k in required[1:] + tuple(k for k in optional if k in st):
        v = st[k]
        try:
            a = np.asarray(v)
            ok = a.dtype.kind in "iuf" and a.shape == (nc,)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"DataNormalizer state: {k!r} must be a list of {nc} numbers, got {str(v)[:80]!r}.")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ConfigError(f"DataNormalizer state: {k!r} holds non-finite values {a.tolist()[:8]}.")
        if k in ("scale", "prescale") and not (a > 0).all():
            raise ConfigError(f"DataNormalizer state: {k!r} must be positive, got {a.tolist()[:8]}.")
        if k == "lambdas" and not (np.abs(a) <= 10).all():
            raise ConfigError(f"DataNormalizer state: lambdas must lie in [-10, 10], got {a.tolist()[:8]}.")
        if k == "ref" and strategy == "pct_change" and (a == 0).any():
            raise ConfigError("DataNormalizer state: pct_change reference values must be nonzero.")
        out[k] = a
    if "prescale" in optional:
        out.setdefault("prescale", np.ones(nc))
    return out
