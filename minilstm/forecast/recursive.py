"""Recursive multi-step forecasts of a one-step ``LSTMModel``: each prediction is fed back as the window's next
row (``predict(X, steps=k)`` on a model trained with output_steps=1). Rows (N, F) in original units ->
(n, steps, T) in y's units, for every window or for the windows that end just before each row in ``origins``.
"""
import numpy as np

from ..errors import ConfigError
from .windows import sliding_windows


def recursive_columns(model):
    """The input columns each fed-back prediction fills: every input column must be a target."""
    tc = model._target_positions()
    if tc is None and model.n_features == 1 and model.n_targets == 1 and model._univariate:
        tc = [0]
    if tc is None or sorted(tc) != list(range(model.n_features)) or model.config["horizon"] != 1:
        raise ConfigError(
            "recursive multi-step prediction feeds each prediction back as the next input row, so every input "
            "column must be a target (a univariate series fitted as fit(x, x) or config['target_columns'] "
            "covering all columns) and horizon must be 1. Otherwise train with config['output_steps'] = steps "
            "(direct multi-step).")
    return tc

def recursive_forecast(model, Xa, steps, origins=None):
    """Feeds each one-step prediction back as the window's next row. With an 'ets' baseline, step s's
    baseline is the smoother's s-step forecast from every row before the window's end (as in predict),
    not re-smoothed through the fed-back predictions."""
    tc = recursive_columns(model)
    L, wt = model.config["sequence_length"], model._transform()
    Xw = sliding_windows(Xa, L)                               # (n, L, F) original units (a view)
    base = None
    if wt is not None and wt.smoother is not None:
        base = wt.smoothed(Xw, model._nx(Xa), np.arange(1, steps + 1))      # (n, steps, T), normalized units
    pick = slice(None) if origins is None else np.asarray(origins) - L
    Xw, base = np.array(Xw[pick]), None if base is None else base[pick]
    out = np.empty((len(Xw), steps, model.n_targets))
    for s in range(steps):
        b = None if base is None else base[:, s:s + 1]
        nxt = model._inv_y(model._predict_windows(model._nx_windows(Xw), smoothed=b).reshape(-1, 1, model.n_targets))
        out[:, s] = nxt[:, 0]
        row = np.empty((len(Xw), 1, model.n_features))
        row[:, 0, tc] = nxt[:, 0]
        Xw = np.concatenate([Xw[:, 1:], row], axis=1)
    return out
