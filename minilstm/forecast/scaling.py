r"""Per-window scaling: each window is put on its own level and scale before the network reads it.

A global normalizer (``config['normalize']``) is fitted once, on the training rows; a level the
training rows never reached (a trend, a level shift) then lies outside everything the network saw.
With ``config['scaling'] = 'window'`` every window is also rescaled by its own numbers, as in RevIN
(Kim et al., 2022) and DeepAR's mean scaling: for each column c of X that holds the history of a
target (``target_history``), with L the window length and the window's rows r = 0..L-1::

    m_{j,c}    = x_{j,L-1,c}                                  the window's last value: its level
    s_{j,c}    = max(std_r x_{j,r,c}, floor_c)                its spread (floor_c: 0.1 of the column's
                                                              spread over the training rows)
    x'_{j,r,c} = (x_{j,r,c} - m_{j,c}) / s_{j,c}              what the network reads
    y'_{j,s,t} = (y_{j,s,t} - m_{j,c_t}) / s_{j,c_t}          what it learns to predict (c_t: target t's column)
    yhat       = yhat' * s_{j,c_t} + m_{j,c_t}                a prediction mapped back, with the window's own m, s

The network then learns how a series moves from where it is, in units of its recent spread, which
is the same for a window in 1990 and one in 2020.

A baseline (``config['baseline']``) goes further: the network learns only what a simple forecast
read off the window misses (the residual, as in Smyl's ES-RNN hybrid and N-BEATS' residual stacks)::

    b_{j,s,t}  = x'_{j,p_s,c_t}      'naive': p_s = L-1, the last value; 'seasonal_naive': p_s the last row of the
                                     window in the target's phase of the season m (L-1 + d - m ceil(d / m), d the
                                     target's rows after the window), the last value where m = 1 or m > L;
                                     'auto': per step s, whichever of the two had the lower error on the
                                     training windows (a day ahead of hourly data: yesterday; an hour ahead: now)
    y'' = y' - b,   yhat' = net + b  an untrained network (output 0) forecasts the baseline itself

Every number comes from the window itself (rows before its targets), so nothing is read from the
future. Columns that are no target's history (temperature, calendar features) keep the global
normalizer only; a target whose history is not a column of X is not rescaled (its window has no
level to read), and a config asking for these options when no target has one is refused.
"""
import numpy as np

from .seasons import long_season
from .smoothing import AICC, FIRST_WINDOW, ExponentialSmoothing

ETS_UNIVARIATE = "ets_univariate"   # the default: 'ets' when every input column is a target's history, else none

FLOOR = 0.1     # a window's spread is at least this fraction of its column's spread over the training rows


def target_history(X, y, target_positions=None):
    """For each target column, the column of X that holds its past values, or None.

    X (N, F), y (N, T); target_positions: config['target_columns'] as positions (y is those columns of X),
    else a target's history is a column of X equal to it on every row.
    """
    if target_positions is not None:
        return [int(c) for c in target_positions]
    return [next((int(c) for c in range(X.shape[1]) if np.array_equal(X[:, c], y[:, t])), None)
            for t in range(y.shape[1])]


def column_floors(X, history):
    """The floor of each history column's window spread: FLOOR x its standard deviation over X's rows (N, F).

    A constant column gets floor 1 (its windows are all flat: they are only shifted)."""
    cols = sorted({c for c in history if c is not None})
    sd = np.std(X[:, cols], axis=0) if cols else np.zeros(0)
    return {c: float(FLOOR * s) if s > 0 else 1.0 for c, s in zip(cols, sd)}


def window_levels(Xw, floors):
    """Xw (n, L, F) -> {column: (level (n,), scale (n,))} for every column in ``floors``."""
    out = {}
    for c, floor in floors.items():
        col = Xw[:, :, c]
        out[c] = (col[:, -1].copy(), np.maximum(col.std(axis=1), floor))
    return out


def scale_windows(Xw, levels):
    """Windows (n, L, F) -> a copy with each history column shifted by its level and divided by its scale."""
    Xs = np.array(Xw, dtype=np.float64)
    for c, (m, s) in levels.items():
        Xs[:, :, c] = (Xs[:, :, c] - m[:, None]) / s[:, None]
    return Xs


def scale_targets(Y, history, levels):
    """Targets (n, k, T) -> in each window's own units (targets without a history column unchanged)."""
    Ys = np.array(Y, dtype=np.float64)
    for t, c in enumerate(history):
        if c is not None:
            m, s = levels[c]
            Ys[:, :, t] = (Ys[:, :, t] - m[:, None]) / s[:, None]
    return Ys


def unscale_targets(P, history, levels):
    """Predictions (n, k, T) in the windows' own units -> the units the windows came in."""
    out = np.array(P, dtype=np.float64)
    for t, c in enumerate(history):
        if c is not None:
            m, s = levels[c]
            out[:, :, t] = out[:, :, t] * s[:, None] + m[:, None]
    return out


def baseline_positions(L, horizon, steps, season):
    """For each step ahead s (0..steps-1): the row of a window whose value the seasonal naive forecast repeats.

    The target of step s lies d = horizon + s rows after the window's last row (L - 1); the seasonal naive
    forecast is the latest row of the window in the same phase of the season: L - 1 + d - season * ceil(d / season).
    season 1, or a season longer than the window, gives the last row (the naive forecast)."""
    out = []
    for s in range(steps):
        d = horizon + s
        out.append(L - 1 + d - season * -(-d // season) if 1 < season <= L and d > 0 else L - 1)
    return np.array(out, dtype=np.int64)


def window_baseline(Xw, history, positions):
    """Windows (n, L, F) -> the baseline (n, k, T): target t at step s is Xw[:, positions[s], history[t]]
    (0 for a target without a history column)."""
    n, T = len(Xw), len(history)
    b = np.zeros((n, len(positions), T))
    for t, c in enumerate(history):
        if c is not None:
            b[:, :, t] = Xw[:, positions, c]
    return b


class WindowTransform:
    """What the network reads and learns, from the windows in the normalizer's units: per-window scaling
    (``floors`` {column: floor}, or None) and a baseline: ``positions`` from ``baseline_positions``, or
    ``smoother``, an ``ExponentialSmoothing`` of the history columns (``forecast.smoothing``), or neither.

    inputs(Xw, rows=None, smoothed=None) -> (X', context): rows (N, F), when given, are the rows the windows
    were cut from, the windows being rows' last n windows, so the smoother's states carry every row before a
    window's end; without them it runs over each window alone (``smoothed``: its forecasts, given).
    targets(X', Y, context) -> what the network learns (n, k, T); outputs(X', P, context) -> its predictions
    P (n, k, T) back in the normalizer's units.
    """

    def __init__(self, history, floors=None, positions=None, smoother=None, steps_ahead=None):
        self.history, self.floors, self.positions = history, floors, positions
        self.smoother, self.steps_ahead = smoother, steps_ahead

    def smoothed(self, Xw, rows, steps_ahead=None):
        """The smoother's forecasts (n, k, T) in the normalizer's units (0 for a target without history), for
        the rows after each window's end in steps_ahead (default: the model's targets)."""
        ds = self.steps_ahead if steps_ahead is None else steps_ahead
        cols = [c for c in self.history if c is not None]
        if rows is not None:
            f = self.smoother.row_forecasts(rows[:, cols], Xw.shape[1], ds)[-len(Xw):]
        else:
            f = self.smoother.window_forecasts(np.asarray(Xw[:, :, cols], dtype=np.float64), ds)
        out = np.zeros((len(Xw), len(ds), len(self.history)))
        i = 0
        for t, c in enumerate(self.history):
            if c is not None:
                out[:, :, t], i = f[:, :, i], i + 1
        return out

    def inputs(self, Xw, rows=None, smoothed=None):
        levels = window_levels(Xw, self.floors) if self.floors else None
        Xs = Xw if levels is None else scale_windows(Xw, levels)
        if self.smoother is not None:
            base = self.smoothed(Xw, rows) if smoothed is None else smoothed
            base = base if levels is None else scale_targets(base, self.history, levels)
            Xs = np.array(Xs, dtype=np.float64) if levels is None else Xs     # scale_windows made a copy already
            for t, c in enumerate(self.history):          # the history as seen from the baseline's first forecast
                if c is not None:
                    Xs[:, :, c] -= base[:, :1, t]
        else:
            base = None if self.positions is None else window_baseline(Xs, self.history, self.positions)
        return Xs, (levels, base)

    def targets(self, Xs, Y, context):
        levels, base = context
        out = Y if levels is None else scale_targets(Y, self.history, levels)
        return out if base is None else out - base

    def outputs(self, Xs, P, context):
        levels, base = context
        out = P if base is None else P + base
        return out if levels is None else unscale_targets(out, self.history, levels)


def choose_positions(Xw, Y, history, L, horizon, steps, season):
    """baseline='auto': for each step ahead, the naive or the seasonal-naive row, whichever forecast the
    training windows' targets better (mean absolute error over the targets with a history column).

    Xw (n, L, F) training windows, Y (n, k, T) their targets, both in the normalizer's units."""
    naive = baseline_positions(L, horizon, steps, 1)
    seasonal = baseline_positions(L, horizon, steps, season)
    cols = [(t, c) for t, c in enumerate(history) if c is not None]
    out = []
    for s in range(steps):
        err = [np.mean([np.abs(Y[:, s, t] - Xw[:, p[s], c]).mean() for t, c in cols]) for p in (naive, seasonal)]
        out.append(int(seasonal[s] if err[1] < err[0] else naive[s]))
    return np.array(out, dtype=np.int64)


def fitted_smoother(config, history, rows, season, to_raw, m2=1):
    """The 'ets' baseline of the history columns chosen on rows (N, F) in the normalizer's units, for the forecasts
    the config trains for, m2 the long season to try -> info['baseline_ets'] (season, params, to_raw, init,
    long_season)."""
    cols = [c for c in history if c is not None]
    smoother = ExponentialSmoothing(season, to_raw=to_raw, criterion=config["baseline_criterion"], m2=m2,
                                    correct=config.get("error_correction", True))
    smoother.fit(np.asarray(rows[:, cols], dtype=np.float64), config["sequence_length"],
                 steps_ahead(config["horizon"], config["output_steps"]))
    return {"season": smoother.m, "params": smoother.params, "to_raw": smoother.to_raw, "init": smoother.init,
            "long_season": smoother.m2}


def smoother_from_info(ets, steps):
    """The ExponentialSmoothing info['baseline_ets'] describes (files saved before a key: its old meaning), steps (k,)
    the model's (``steps_ahead``: what an error correction's columns serve)."""
    return ExponentialSmoothing(ets["season"], ets["params"], ets["to_raw"], ets.get("init", FIRST_WINDOW),
                                m2=ets.get("long_season", 1), steps=steps)


def window_transform(config, info, X=None, y=None, X_train_normalized=None, labels=None, train_windows=None,
                     x_normalizer=None, index=None):
    """The WindowTransform a config asks for (None when neither scaling='window' nor a baseline).

    In fit (X (N, F), y (N, T) as given, X_train_normalized: the training rows after the normalizer,
    train_windows: (windows (n, L, F), targets (n, k, T)) of the training rows, normalized) it is built from
    the data and written into ``info`` (target_history, window_floors, baseline_positions); after ``load`` it
    is rebuilt from that ``info`` alone. The floors and the 'auto' choice read training rows only (which column
    of X holds a target's history is found by comparing the columns over the rows given to fit). index: what
    tells the rows' times (``seasons.long_season``), or None.
    """
    baseline = resolved_baseline(config, info)
    if config.get("scaling") != "window" and baseline is None:
        if X is not None:
            info["baseline"] = None
        return None
    L, h, k = config["sequence_length"], config["horizon"], config["output_steps"]
    if X is not None:
        from .inputs import target_positions
        history = target_history(X, y, target_positions(config["target_columns"], labels["columns"], X.shape[1]))
        if baseline == ETS_UNIVARIATE:                    # the default: ETS for a series forecast from its past alone
            own_past = all(c is not None for c in history) and sorted(set(history)) == list(range(X.shape[1]))
            baseline = "ets" if own_past and h >= 1 else None
        info["baseline"] = baseline
        if config.get("scaling") != "window" and baseline is None:
            return None
        if all(c is None for c in history):
            from ..errors import ConfigError
            raise ConfigError("config['scaling'] = 'window' and config['baseline'] read the target's past values from "
                              "the window, but no column of X holds them (y is not a column of X, e.g. with "
                              "horizon=0 and an already shifted y). Include the target's history as a column of X "
                              "(fit(df, 'target') or config['target_columns']), or leave these options off.")
        floors = column_floors(X_train_normalized, history) if config.get("scaling") == "window" else {}
        info["target_history"] = history
        info["window_floors"] = [floors.get(c) if c is not None else None for c in history]
        season = int(config["season"] or info.get("season") or 1)
        if baseline == "ets":
            cols = [c for c in history if c is not None]
            to_raw = affine_to_raw(x_normalizer, X.shape[1], cols)
            m2 = 1                                    # 'mae' cannot judge a long season's phases: not tried
            if config["baseline_criterion"] == AICC:
                m2, _ = long_season(X_train_normalized[:, cols[0]], season, index, config.get("long_season"))
            info["baseline_ets"] = fitted_smoother(config, history, X_train_normalized, season, to_raw, m2)
        elif baseline is not None:
            positions = (choose_positions(*train_windows, history, L, h, k, season) if baseline == "auto" else
                         baseline_positions(L, h, k, season if baseline == "seasonal_naive" else 1))
            info["baseline_positions"] = positions.tolist()
    history = info["target_history"]
    floors = {c: f for c, f in zip(history, info["window_floors"]) if c is not None and f is not None}
    if baseline == "ets":
        smoother = smoother_from_info(info["baseline_ets"], steps_ahead(h, k))
        return WindowTransform(history, floors or None, smoother=smoother, steps_ahead=steps_ahead(h, k))
    positions = np.array(info["baseline_positions"], dtype=np.int64) if baseline is not None else None
    return WindowTransform(history, floors or None, positions)


def resolved_baseline(config, info):
    """The baseline a fitted model uses: info['baseline'] (what fit resolved config['baseline'] to), else the
    config's (a model saved before fit recorded it), or, before fit, the config's request."""
    return info["baseline"] if "baseline" in info else config.get("baseline")


def affine_to_raw(x_normalizer, n_features, cols):
    """For each column in cols: (a, c) with raw = a x + c, x in the normalizer's units, or None where the
    normalizer is not affine on that column (log, power). No normalizer: (1, 0)."""
    if x_normalizer is None:
        return [[1.0, 0.0] for _ in cols]
    Z = np.zeros((3, n_features))
    Z[1], Z[2] = 1.0, 2.0
    R = np.asarray(x_normalizer.inverse_transform(Z), dtype=np.float64)
    out = []
    for c in cols:
        a, b = R[1, c] - R[0, c], R[0, c]
        ok = np.isfinite([a, b]).all() and a != 0 and abs(R[2, c] - (b + 2 * a)) <= 1e-9 * (abs(a) + abs(b))
        out.append([float(a), float(b)] if ok else None)
    return out


def steps_ahead(horizon, output_steps):
    """How many rows after a window's last row each of its targets lies: horizon .. horizon + output_steps - 1."""
    return np.arange(horizon, horizon + output_steps, dtype=np.int64)
