"""DataNormalizer: per-column scaling with an exact inverse.

``DataNormalizer({'strategy': 'zscore'})`` (the documented form), ``DataNormalizer('zscore')``,
``DataNormalizer(strategy='zscore')``; ``'method'`` is accepted as an alias of ``'strategy'``.
``parse_spec`` checks any of these forms and returns the canonical dict (the strategies' functions are in
``transforms``).

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
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError, DataError, NotFittedError, ShapeError
from .transforms import (  # noqa: F401 (public)
    _SPEC_ALIASES,
    _WHY,
    AFFINE,
    LAMBDA_RANGE,
    METHODS,
    POWER_METHODS,
    ROW_WISE,
    SPEC_KEYS,
    STRATEGIES,
    _box_cox,
    _box_cox_inv,
    _center_scale,
    _check_state,
    _fit_lambda,
    _prescale,
    _yeo_johnson,
    _yeo_johnson_inv,
    parse_spec,
)


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
            raise DataError(f"{what} ({self.strategy}): {self._col(c)} row {r} (value {float(A[r, c])!r}) gives a "
                            f"non-finite result: {_WHY[self.strategy]}. Refit the normalizer on data that covers this "
                            "range, or rescale the column first.")
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
