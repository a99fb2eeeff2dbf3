"""The baselines a forecaster must beat, each a small model with ``fit`` and ``predict`` (as Darts' baselines),
and ``baseline_forecasts``: all of them on the same targets, the one set ``LSTMModel.evaluate`` and
``backtest`` score.

Every baseline forecasts from what is known at each window's forecast time (the windowing contract of
``windows``): persistence repeats the last known target; seasonal naive the value one whole season (or
more) before each target; the training mean; zero; and a linear autoregression on the same windows.
Arrays: y (N, T) targets in original units; n windows of sequence_length L; forecasts (n, steps, T).
"""
import numpy as np

from .windows import target_rows


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


class Persistence:
    """The last known target at forecast time."""

    def fit(self, y):
        return self

    def predict(self, y, n, L, horizon, steps=1):
        return persistence_forecast(y, n, L, horizon, steps)


class SeasonalNaive:
    """The value one whole season (or more) before each target; persistence where that is before the data."""

    def __init__(self, season):
        self.season = int(season)

    def fit(self, y):
        return self

    def predict(self, y, n, L, horizon, steps=1):
        return seasonal_naive_forecast(y, n, L, horizon, self.season, steps)


class TrainingMean:
    """The mean of the training targets, (T,), for every target."""

    def __init__(self, mean=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)

    def fit(self, y):
        self.mean = np.asarray(y, dtype=np.float64).reshape(len(y), -1).mean(0)
        return self

    def predict(self, shape):
        return np.broadcast_to(self.mean, shape)


class Zero:
    """Zero everywhere (the baseline for returns)."""

    def fit(self, y):
        return self

    def predict(self, shape):
        return np.zeros(shape)


def baseline_forecasts(persistence, seasonal_naive, linear_ar, truth, mean=None):
    """Every baseline's forecasts of the targets ``truth`` (n, steps, T), in table order: persistence,
    seasonal_naive, linear_ar (forecasts made by the caller from its windows), mean (when the training mean
    ``mean`` (T,) or (n, steps, T) is given) and zero. Returns {name: (n, steps, T)}."""
    base = {"persistence": persistence, "seasonal_naive": seasonal_naive, "linear_ar": linear_ar}
    if mean is not None:
        mean = np.asarray(mean, dtype=np.float64)
        base["mean"] = mean if mean.shape == truth.shape else TrainingMean(mean).predict(truth.shape)
    base["zero"] = np.zeros_like(truth)
    return base
