r"""Known-future columns (``config['future_columns']``): inputs whose values at the target times are known
when forecasting (a calendar, a day-ahead price or load forecast, a weather forecast). Darts calls them
future covariates, NeuralForecast ``futr_exog``.

A window reads rows [j, j + L) and forecasts the rows e + h .. e + h + k - 1 after its last row
e = j + L - 1 (horizon h, output_steps k). For each future column f, each row t of the window also
carries that column's values at the k rows the forecast made after row t targets, its *leads*::

    lead_{f,s}(t) = X[t + h + s, f]          s = 0 .. k - 1

    the row the network reads:  [ X[t, :],  lead_{f,0}(t), ..., lead_{f,k-1}(t)  for every f ]

so at the window's last row the network reads exactly the known inputs of the rows it forecasts; at
earlier rows the leads are those rows' own next values, which are as known (everything a lead reads
lies at most h + k - 1 rows after the origin's last row, inside the span the user vouches is known).
The recurrent layers read the leads as they read any input column (the encoder over the past is also
the decoder over the horizon's known inputs), so nothing new needs a forward or backward of its own:
the gradients are the LSTM's and the head's, checked like the rest. The cost is k inputs per future
column: a day ahead of hourly data with 3 known columns adds 72 inputs.

A lead reads only a future column; a target's past (or any other column) after the origin is never
read (``tests/test_future.py`` poisons it). The rows X[N - h - k + 1 :] of N rows have no complete leads:
a window ending there has no future values, so ``predict`` returns predictions only for the windows whose
future rows are all in X, and ``forecast`` takes them from ``future=`` (h + k - 1 rows of the future
columns after the history).
"""
import numpy as np

from ..errors import ConfigError, DataError, ShapeError
from .inputs import align_columns, read_table, target_positions


def n_leads(config):
    """How many lead inputs a row gets: len(future_columns) * output_steps (0 without future columns)."""
    fc = config.get("future_columns")
    return 0 if not fc else len(fc) * config["output_steps"]


def extra_rows(config):
    """How many rows after a window's last row its leads read: horizon + output_steps - 1 (0 without)."""
    return config["horizon"] + config["output_steps"] - 1 if config.get("future_columns") else 0


def positions(config, columns, n_columns, name="X"):
    """config['future_columns'] as positions in X's columns (None without future columns)."""
    fc = config.get("future_columns")
    if not fc:
        return None
    try:
        return target_positions(fc, columns, n_columns, name)
    except ConfigError as e:
        raise ConfigError(str(e).replace("target_columns", "future_columns")) from None


def check_no_target(future, history, names=None):
    """Refuse a future column that holds a target's values (its future would be the answer): history is,
    per target, the column of X holding its past (``scaling.target_history``)."""
    leak = sorted(set(future) & {c for c in history if c is not None})
    if leak:
        shown = [names[c] if names is not None else c for c in leak]
        raise ConfigError(f"config['future_columns'] includes {shown}, which hold(s) the target's own values: their "
                          "values after the origin are what the model forecasts (a leak). Known-future columns are "
                          "inputs known in advance (a calendar, a day-ahead forecast); remove the target(s) from "
                          "future_columns.")


def with_leads(Xa, cols, h, k):
    """Rows (N, F) -> (N - h - k + 1, F + len(cols) * k): each row with its leads (the module's equation),
    lead s of column f at position F + i * k + s (i: f's place in cols). Rows without complete leads are cut."""
    N, F = Xa.shape
    M = N - h - k + 1
    if M < 1:
        return np.zeros((0, F + len(cols) * k), dtype=Xa.dtype)
    leads = [Xa[h + s:h + s + M, c] for c in cols for s in range(k)]
    return np.concatenate([Xa[:M], np.stack(leads, axis=1)], axis=1)


def join_future(Xa, future, cols, columns, config, name="future", history_index=None, freq=None):
    """forecast's X_history rows (N, F) and ``future`` -> rows (N + h + k - 1, F) whose future columns after
    the history are ``future``'s and whose other columns there are NaN (never read: ``with_leads`` cuts them).

    future: an array (rows, len(cols)) in config['future_columns'] order, or a DataFrame with those columns
    by name (a model fitted on names) and no others; at least h + k - 1 rows (more are ignored). When the
    history and ``future`` are both indexed by time, future's rows must be the ones right after the
    history's last (at the model's frequency ``freq``)."""
    need = extra_rows(config)
    if future is None:
        raise DataError(f"this model reads known-future columns (config['future_columns'] = "
                        f"{config['future_columns']}): forecast needs their next {need} row(s) after X_history, "
                        "as forecast(X_history, future=X_future).")
    t = read_table(future, name)
    names = [columns[c] for c in cols] if columns is not None else None
    if t.is_frame and names is not None:
        missing = [c for c in names if c not in t.columns]
        if missing:
            raise ShapeError(f"{name} lacks the future column(s) {missing}; pass a DataFrame with {names}.")
        extra = [c for c in t.columns if c not in names]
        if extra:
            raise ShapeError(f"{name} has column(s) {extra} that are not future columns; pass only "
                             f"{names} (the target and past-only inputs are not known after the origin).")
        t = align_columns(t, names, name)
    elif t.values.shape[1] != len(cols):
        raise ShapeError(f"{name} has {t.values.shape[1]} column(s); it must hold the {len(cols)} future column(s) "
                         f"{names or config['future_columns']}, in that order.")
    vals = t.values
    if len(vals) < need:
        raise DataError(f"{name} has {len(vals)} row(s); the model reads the future columns over the {need} row(s) "
                        f"after X_history (horizon + output_steps - 1). Pass at least {need}.")
    vals = vals[:need]
    check_follows(history_index, t.index, need, freq, name)
    if not np.isfinite(vals).all():
        raise DataError(f"{name} has missing or infinite values in its first {need} row(s); a known-future input "
                        "must be known: fill them (e.g. the forecast you would use) before forecasting.")
    rows = np.full((need, Xa.shape[1]), np.nan)
    rows[:, cols] = vals
    return np.concatenate([Xa, rows])


def check_follows(history_index, index, need, freq, name):
    """When both are indexed by time (and the frequency is known): index[:need] must be the need times right
    after history_index[-1]."""
    from .inputs import is_datetime_index
    if freq is None or not (is_datetime_index(history_index) and is_datetime_index(index)) or len(history_index) == 0:
        return
    import pandas as pd
    try:
        want = pd.date_range(start=history_index[-1], periods=need + 1, freq=freq)[1:]
    except (ValueError, TypeError):
        return                                              # a frequency pandas cannot step: nothing to compare
    got = index[:need]
    if (got.tz is None) != (want.tz is None):
        raise DataError(f"{name}'s times are {'naive' if got.tz is None else 'time-zone aware'} but X_history's are "
                        f"{'naive' if want.tz is None else 'time-zone aware'}; index both the same way.")
    if len(got) != len(want) or not (got == want).all():
        raise DataError(f"{name}'s rows must be the {need} time(s) right after X_history's last, {want[0]} .. "
                        f"{want[-1]} (frequency {freq}); they start at {got[0]}. Pass the known-future values of "
                        "the rows being forecast.")


def readable_future(X, cols):
    """The rows after a fold's last origin that a backtest may show its model: the future columns' values,
    NaN elsewhere. X (n, F) -> (n, F), a copy."""
    out = np.full(X.shape, np.nan)
    out[:, cols] = X[:, cols]
    return out


def check_columns(config):
    """Config-level checks: future columns with the window mechanisms that read a target's level off the
    window (scaling='window', an explicit baseline) are refused: the leads are inputs, not a target's past."""
    if not config.get("future_columns"):
        return
    if config.get("scaling") == "window" or config.get("baseline") not in (None, "ets_univariate"):
        raise ConfigError("config['future_columns'] cannot be combined with scaling='window' or a baseline "
                          f"(got scaling={config.get('scaling')!r}, baseline={config.get('baseline')!r}): set "
                          "scaling=None and baseline=None (or leave baseline at its default, which does not "
                          "apply when X has other columns than the target).")


__all__ = ["check_columns", "check_no_target", "extra_rows", "join_future", "n_leads", "positions",
           "readable_future", "with_leads"]
