r"""Rolling-origin backtesting: fit on the rows before an origin, forecast the rows after it, over many origins.

Origins are rows o = start, start + step, ... (before ``end``). From origin o the model
forecasts rows o - 1 + horizon + s, s = 0 .. steps-1 (horizon 1: rows o .. o+steps-1), from
the window of the L = sequence_length rows just before it, X[o-L:o]. A *fold* is one fitted
model and the origins it forecasts::

    rows       0 ......................... o1 ......... o2 ......... o3 ...........
    expanding  [======= fit on rows < o1 ==]->forecast
               [============ fit on rows < o2 =========]->forecast
    sliding              [== train_size rows ==]->forecast       (the window moves with o)

refit=True fits a new model at every origin (one fold per origin); refit=False fits once,
before ``start``, and forecasts every origin with it; refit=k fits at every k-th origin
(Darts' ``retrain=k``). A fold reads nothing at or after its fit origin when fitting (its
normalizers included, fitted by ``LSTMModel.fit`` on its own training rows), and each
forecast reads only rows before its own origin.

The baselines are those of ``LSTMModel.evaluate``, scored on exactly the same target rows:
persistence and seasonal naive (from the rows before each origin), a linear autoregression
fitted on each fold's training windows (in y's units: the same predictions as one fitted on
normalized windows, for the affine normalizers), the fold's training mean, and zero.
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, DataError, InputTypeError, ShapeError
from . import future as future_inputs
from .baselines import LinearAR, baseline_forecasts, persistence_forecast, seasonal_naive_forecast
from .config import validate_config
from .fitting import with_window
from .inputs import read_table, target_positions, targets_from_y
from .metrics import naive_scale, regression_metrics, units_of
from .parallel import run_parallel, task
from .report import EvaluationReport
from .seasons import choose_season, datetime_hint
from .windows import n_labeled, sliding_windows, window_targets


def as_arrays(X, y, config):
    """X, y as given to fit (y may be omitted for a one-column X, or name columns of a DataFrame X) ->
    (X (N, F), y (N, T), datetime64 index (N,) or None, config), checked.

    The config returned names target_columns by position (a DataFrame's names resolved), for fits on the arrays.
    """
    from .many import is_many
    if is_many(X, config):
        raise InputTypeError("backtest, LSTMEnsemble and sweep take one series (an array or a DataFrame); for "
                             "several, run them on each series, or fit one LSTMModel over all of them.")
    Xt = read_table(X, "X")
    target_columns, y, _ = targets_from_y(config["target_columns"], y, Xt.values.shape[1])   # as LSTMModel.fit
    tc = target_positions(target_columns, Xt.columns if Xt.is_frame else None, Xt.values.shape[1])
    if y is None:
        if tc is None:
            raise ConfigError("y is None and X has several columns: pass targets, name the target column(s) of a "
                              "DataFrame (y='Demand'), or set config['target_columns'].")
        ya = Xt.values[:, tc]
    else:
        ya = read_table(y, "y").values
    if len(ya) != len(Xt.values):
        raise DataError(f"X has {len(Xt.values)} rows but y has {len(ya)}; they must be aligned row by row.")
    index = getattr(X, "index", None) if Xt.index is not None else getattr(y, "index", None)
    fc = future_inputs.positions(config, Xt.columns if Xt.is_frame else None, Xt.values.shape[1])
    config = config if tc is None else {**config, "target_columns": tc}
    return Xt.values, ya, index, (config if fc is None else {**config, "future_columns": fc})


def row_of(when, index, n_rows, name):
    """A row position from an int (negative counts from the end), a fraction in (0, 1), or a date (needs an index)."""
    if isinstance(when, (int, np.integer)) and not isinstance(when, bool):
        r = int(when) + (n_rows if when < 0 else 0)
    elif isinstance(when, float) and 0.0 < when < 1.0:
        r = int(round(when * n_rows))
    else:
        if index is None:
            raise ConfigError(f"{name}={when!r}: a date needs a time index (pass X as a pandas object indexed by time, "
                              "or index=dataset.index); otherwise give a row number or a fraction in (0, 1).")
        import pandas as pd
        idx = time_index(index, n_rows)
        try:
            ts = pd.Timestamp(when)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={when!r} is not a row number, a fraction in (0, 1) or a date.") from None
        if idx.tz is not None and ts.tz is None:
            ts = ts.tz_localize(idx.tz)
        if idx.tz is None and ts.tz is not None:
            raise ConfigError(f"{name}={when!r} has a time zone ({ts.tz}) but the index has none; give the date "
                              f"without one (e.g. {str(ts.tz_localize(None))!r}) or index the data in that zone.")
        r = int(idx.searchsorted(ts))
    if not 0 <= r <= n_rows:
        raise ConfigError(f"{name}={when!r} is row {r}, outside the data's 0..{n_rows} rows.")
    return r


def time_index(index, n_rows):
    """index (one timestamp per row, sorted) -> pandas.DatetimeIndex, else a clear error."""
    import pandas as pd
    if not hasattr(index, "__len__") or isinstance(index, (str, bytes)) or len(index) != n_rows:
        raise ShapeError(f"index must hold one timestamp per row of X ({n_rows}), got "
                         f"{len(index) if hasattr(index, '__len__') else type(index).__name__}.")
    try:
        idx = pd.DatetimeIndex(index)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"index must hold timestamps (one per row), got values pandas cannot read as dates ({e}).") \
            from None
    if not idx.is_monotonic_increasing:
        raise DataError("the time index is not sorted in increasing order, so a date does not name one row; sort "
                        "the data by time first (df.sort_index()).")
    return idx


def n_train_windows(n_rows, L, h, k, validation_split):
    """Training windows that ``LSTMModel.fit`` gets from n_rows rows (its validation tail and gap removed)."""
    n = n_labeled(n_rows, L, h, k)
    n_val = max(1, int(round(n * validation_split))) if validation_split > 0 else 0
    return n - n_val - (k - 1 if n_val else 0)


def recursive_ok(X, y, config):
    """Whether LSTMModel can forecast recursively: a one-step model (output_steps 1), every input column a target,
    horizon 1."""
    tc = config["target_columns"]
    if config["horizon"] != 1 or config["output_steps"] != 1:
        return False
    if tc is not None:                            # distinct columns (validated): all of X when as many
        return len(tc) == X.shape[1]
    return X.shape[1] == 1 and y.shape[1] == 1 and np.array_equal(X[:, 0], y[:, 0])


def _check_settings(step, steps, window, train_size, refit, season=None):
    from .model import MAX_STEPS
    for name, v, hi in (("step", step, 10 ** 12), ("steps", steps, MAX_STEPS)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi:
            raise ConfigError(f"{name} must be an integer in [1, {hi:,}], got {v!r}.")
    if season is not None and (isinstance(season, (bool, np.bool_)) or not isinstance(season, (int, np.integer)) or
                               not 1 <= season <= 10 ** 9):
        raise ConfigError(f"season must be None (chosen from the data) or an integer >= 1 (rows per season), got "
                          f"{season!r}.")
    if not isinstance(window, str) or window not in ("expanding", "sliding"):
        raise ConfigError(f"window must be 'expanding' (fit on every row before the origin) or 'sliding' (the "
                          f"last train_size rows), got {window!r}.")
    if train_size is not None and (isinstance(train_size, bool) or not isinstance(train_size, (int, np.integer))
                                   or train_size < 1):
        raise ConfigError(f"train_size must be an integer >= 1 (rows per fit) or None, got {train_size!r}.")
    if train_size is not None and window == "expanding":
        raise ConfigError(f"train_size={train_size!r} applies to window='sliding' (the last train_size rows); the "
                          "expanding window fits on every row before the origin. Pass window='sliding' or drop "
                          "train_size.")
    if not (isinstance(refit, bool) or (isinstance(refit, (int, np.integer)) and refit >= 1)):
        raise ConfigError(f"refit must be True (every origin), False (once) or an integer k >= 1 (every k-th "
                          f"origin), got {refit!r}.")


def fold_rows(Xa, lo, end, config):
    """A fold's rows of X: [lo, end), its last origin being end; with known-future columns also the next
    horizon + output_steps - 1 rows with only those columns' values (NaN elsewhere: never read)."""
    extra = future_inputs.extra_rows(config)
    if not extra:
        return Xa[lo:end]
    return np.concatenate([Xa[lo:end], future_inputs.readable_future(Xa[end:end + extra], config["future_columns"])])


def fit_and_forecast(config, X, y, n_fit, origins, steps, validation_split):
    """One fold, in a worker: fit on X[:n_fit], forecast from each origin (rows of X before it).

    X (N, F), y (N, T): the fold's rows, ending before its last origin; origins (m,) positions in
    them, each >= sequence_length. Returns a dict with the
    forecasts (m, steps, T), the linear AR's (m, steps, T), the training mean (T,), fit facts.
    """
    from .model import LSTMModel
    L, h = config["sequence_length"], config["horizon"]
    t0 = time.perf_counter()
    model = LSTMModel(config).fit(X[:n_fit], y[:n_fit], validation_split=validation_split, verbose=False)
    seconds = time.perf_counter() - t0
    m, T = len(origins), y.shape[1]
    # each origin's window, every row before it (and, with known-future columns, their values after it)
    pred = model._predict_rows(X[:origins[-1] + future_inputs.extra_rows(config)], steps, origins)
    # the baselines' training rows are the model's: its training windows, without the validation tail
    k = config["output_steps"]
    n_tr = n_train_windows(n_fit, L, h, k, validation_split)
    rows = n_tr - 1 + L - 1 + h + k                    # the rows the model's training targets touch
    K = max(k, steps)                                  # the AR predicts all steps directly
    Yw = window_targets(y[:n_fit], L, h, K)[:max(n_train_windows(n_fit, L, h, K, validation_split), 1)]
    ar = LinearAR().fit(sliding_windows(X[:n_fit], L)[:len(Yw)], Yw.reshape(len(Yw), -1))
    ar_pred = ar.predict(np.stack([X[o - L:o] for o in origins])).reshape(m, K, T)[:, :steps]
    return {"forecasts": np.asarray(pred, dtype=np.float64).reshape(m, steps, T), "linear_ar": ar_pred,
            "mean": y[:rows].mean(0), "mase_scale": naive_scale(y[:rows]), "fit_seconds": seconds,
            "best_epoch": int(model.info.get("best_epoch", 0)), "epochs": len(model.train_history),
            "network_kept": model.info.get("network_kept"), "baseline_refit": bool(model.info.get("baseline_refit"))}


@dataclass
class BacktestResult:
    """What ``backtest`` returns. Shapes: m origins, ``steps`` forecasts each, T targets.

    origins (m,) rows; target_rows (m, steps); truth, forecasts (m, steps, T) in y's units;
    baselines {name: (m, steps, T)}; fold_of (m,) the fold of each origin; folds: one dict per
    fit (train_rows, fit_origin, n_origins, fit_seconds, best_epoch, network_kept (None without the 'ets'
    baseline), baseline_refit, metrics {method: metrics});
    metrics: overall metrics of every target of every origin, an ``EvaluationReport``
    (model first, ``metrics['baselines']``); times (m,) origin timestamps when X had a time index.
    """
    origins: np.ndarray
    target_rows: np.ndarray
    truth: np.ndarray
    forecasts: np.ndarray
    baselines: dict
    fold_of: np.ndarray
    folds: list
    metrics: dict
    settings: dict = field(default_factory=dict)
    times: object = None

    def per_origin(self, metric="rmse"):
        """{method: (m,) RMSE or MAE of each origin's forecasts}, the model under 'model'."""
        if metric not in ("rmse", "mae"):
            raise ConfigError(f"per_origin metric must be 'rmse' or 'mae', got {metric!r}.")
        out = {}
        for name, p in {"model": self.forecasts, **self.baselines}.items():
            e = (p - self.truth).reshape(len(p), -1)
            out[name] = np.sqrt((e ** 2).mean(1)) if metric == "rmse" else np.abs(e).mean(1)
        return out

    def table(self, metric="rmse"):
        """One row per fold (its origins, the model's and the baselines' metric), then the overall row."""
        if metric not in self.metrics or not isinstance(self.metrics[metric], (int, float)):
            valid = [k for k, v in self.metrics.items() if isinstance(v, float) and k not in ("mape_excluded",)]
            raise ConfigError(f"table(metric) takes one of {valid}, got {metric!r}.")
        names = ["model", *self.baselines]
        head = f"{'fold':>4} {'origins':>15} {'n':>5}" + "".join(f"{n[:14]:>15}" for n in names)
        lines = [f"backtest, {metric.upper()} per fold ({self.settings.get('window')} window, refit="
                 f"{self.settings.get('refit')}, steps={self.settings.get('steps')})", head]
        for f in self.folds:
            lines.append(f"{f['fold']:>4} {f['first_origin']:>7}-{f['last_origin']:<7} {f['n_origins']:>5}" +
                         "".join(f"{f['metrics'][n][metric]:>15.3f}" for n in names))
        overall = [self.metrics[metric]] + [self.metrics["baselines"][n][metric] for n in self.baselines]
        lines.append(f"{'all':>4} {'':>15} {len(self.origins):>5}" + "".join(f"{v:>15.3f}" for v in overall))
        return "\n".join(lines)

    def plot(self, path=None, **kwargs):
        """The forecasts of every origin against the truth (``minilstm.plotting.plot_backtest``)."""
        from ..plotting import plot_backtest
        return plot_backtest(self, path=path, **kwargs)

    __str__ = table

    def __repr__(self):
        return self.table()


def plan_folds(origins, refit, window, train_size):
    """The folds: [(first training row, fit origin, the origins (m_i,) it forecasts)], in time order."""
    every = 1 if refit is True else len(origins) if refit is False else int(refit)
    spans = []
    for a in range(0, len(origins), every):
        group = origins[a:a + every]
        o = int(group[0])
        spans.append((0 if window == "expanding" else max(0, o - train_size), o, group))
    return spans


def check_first_fold(start, window, train_size, L, h, k, validation_split, n_rows):
    """DataError unless the first fold has the rows that LSTMModel.fit needs (the later folds have as many or more)."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or \
            not 0.0 <= validation_split < 1.0:
        raise ConfigError(f"validation_split must be a number in [0, 1), got {validation_split!r}.")
    need = next(r for r in range(L, n_rows + 2) if r > n_rows or n_train_windows(r, L, h, k, validation_split) >= 1)
    have = start if window == "expanding" else min(train_size, start)
    if have < need:
        raise DataError(f"the first fold (origin row {start}) has {have} training rows; a fit with "
                        f"sequence_length={L}, horizon={h}, output_steps={k} and validation_split={validation_split} "
                        f"needs at least {need}. Start later" +
                        (" or raise train_size." if window == "sliding" else "."))


def _score(truth, preds, scale):
    """{method: regression_metrics} for the model and each baseline on the same targets."""
    return {name: regression_metrics(truth, p, scale) for name, p in preds.items()}


def naive_baselines(y, origins, L, h, steps, season):
    """Persistence and seasonal naive from each origin, by ``metrics``' functions: (m, steps, T) each.

    Only rows before each origin are read (the functions' windowing contract); the slice of y
    starts early enough that every seasonal lag the full series has is kept.
    """
    s0 = max(0, int(origins[0]) - L - season * math.ceil((h + steps) / season) - 1)
    sub = y[s0:int(origins[-1]) - 1 + h + steps]
    n = n_labeled(len(sub), L, h, steps)
    j = np.asarray(origins) - L - s0
    return (persistence_forecast(sub, n, L, h, steps)[j], seasonal_naive_forecast(sub, n, L, h, season, steps)[j])


def backtest(config, X, y=None, *, start, step=1, steps=1, end=None, window="expanding", train_size=None,
             refit=True, validation_split=0.1, season=None, index=None, n_jobs=1, backend=None, verbose=True):
    """Rolling-origin backtest of ``LSTMModel(config)`` on (X, y) (see the module docstring).

    start, end: first origin and the row origins stop before (int rows, fractions in (0, 1) or
    dates when X is indexed by time or ``index`` is given). step: rows between origins; steps:
    forecasts per origin (direct with output_steps >= steps, else recursive). window='sliding'
    fits on the last ``train_size`` rows (default: the rows before ``start``). refit: True, False
    or k. season: the seasonal-naive period (default: configured, else ``seasons.choose_season``
    on the rows before ``start``). n_jobs, backend: see ``minilstm.forecast.parallel``; results
    do not depend on them. verbose: a progress bar over the fits. Returns a ``BacktestResult``.
    """
    c = validate_config(config)
    _check_settings(step, steps, window, train_size, refit, season)
    Xa, ya, idx, c = as_arrays(X, y, c)
    if index is not None:
        time_index(index, len(Xa))
    idx = idx if index is None else index
    N, h, k = len(Xa), c["horizon"], c["output_steps"]
    start, end = row_of(start, idx, N, "start"), (N if end is None else row_of(end, idx, N, "end"))
    hint = datetime_hint(y, X) if index is None else index
    if c["sequence_length"] is None:                  # chosen once, on the first fold's rows, as its fit would choose
        first = max(start - train_size, 0) if window == "sliding" and train_size is not None else 0
        c = with_window(c, Xa[first:start], ya[first:start], hint, validation_split)[0]
    L = c["sequence_length"]
    extra = future_inputs.extra_rows(c)             # rows after an origin whose known-future columns it reads
    last = min(end - 1, N - h - steps + 1, N - extra)   # the last origin whose targets (and leads) are in the data
    origins = np.arange(start, last + 1, step)
    if start < L:
        raise DataError(f"no fold: the first origin, row {start}, has {start} row(s) before it, but a window needs "
                        f"sequence_length={L}. Move start later (to row {L} or after), or lower sequence_length.")
    if len(origins) == 0:
        raise DataError(f"no fold: origins from row {start} every {step} row(s) before row {end}, with horizon={h} "
                        f"and steps={steps}, need target rows up to {start - 1 + h + steps - 1}, but X has {N} rows. "
                        "Move start earlier, or lower steps or horizon.")
    if steps > k and not recursive_ok(Xa, ya, c):
        raise ConfigError(f"steps={steps} exceeds config['output_steps']={k}, and this model cannot feed its "
                          "predictions back (that needs a one-step model, output_steps=1, every input column a "
                          f"target and horizon 1). Set config['output_steps']={steps} (direct multi-step), or "
                          f"steps <= {k}.")
    if train_size is not None and train_size > start:
        raise ConfigError(f"train_size={train_size} rows, but the first origin (row {start}) has only {start} rows "
                          "before it; lower train_size or start later.")
    train_size = start if train_size is None else int(train_size)
    check_first_fold(start, window, train_size, L, h, k, validation_split, N)
    spans = plan_folds(origins, refit, window, train_size)
    tasks = [task(fit_and_forecast, c, fold_rows(Xa, lo, int(g[-1]), c), ya[lo:int(g[-1])], o - lo, g - lo, steps,
                  validation_split) for lo, o, g in spans]
    results = run_parallel(tasks, n_jobs=n_jobs, backend=backend, progress="backtest fits" if verbose else False)
    s, how = (season, "given to backtest") if season else choose_season(
        ya[spans[0][0]:start], index=hint, season=c["season"])
    s = int(s)
    rows = origins[:, None] - 1 + h + np.arange(steps)[None, :]
    truth = ya[rows]
    pers, seas = naive_baselines(ya, origins, L, h, steps, s)
    fold_of = np.repeat(np.arange(len(results)), [len(g) for _, _, g in spans])
    base = baseline_forecasts(pers, seas, np.concatenate([r["linear_ar"] for r in results]), truth,
                              mean=np.broadcast_to(np.stack([r["mean"] for r in results])[fold_of][:, None, :],
                                                   truth.shape).copy())
    pred = np.concatenate([r["forecasts"] for r in results])
    scale = results[0]["mase_scale"]          # overall MASE: the first fold's scale; each fold uses its own
    folds = []
    for i, ((lo, o, group), r) in enumerate(zip(spans, results)):
        sel = fold_of == i
        folds.append({"fold": i, "train_rows": (lo, o), "fit_origin": o, "first_origin": int(group[0]),
                      "last_origin": int(group[-1]), "n_origins": len(group), "fit_seconds": r["fit_seconds"],
                      "best_epoch": r["best_epoch"], "epochs": r["epochs"], "network_kept": r["network_kept"],
                      "baseline_refit": r["baseline_refit"],
                      "metrics": _score(truth[sel], {"model": pred[sel], **{n: b[sel] for n, b in base.items()}},
                                        r["mase_scale"])})
    overall = EvaluationReport(regression_metrics(truth, pred, scale))
    overall.model = c["cell"].upper()
    overall["baselines"] = _score(truth, base, scale)
    overall.update(n_scored=int(truth.size), season=s, season_how=how, units=units_of(y, X),
                   notes=[f"backtest: {len(origins)} origins in {len(folds)} fold(s), rows "
                          f"{origins[0]}..{origins[-1]}"])
    times = None if idx is None else np.asarray(idx)[origins]
    settings = {"start": start, "end": end, "step": step, "steps": steps, "window": window, "refit": refit,
                "train_size": train_size if window == "sliding" else None, "validation_split": validation_split,
                "config": c, "index": idx}
    return BacktestResult(origins, rows, truth, pred, base, fold_of, folds, overall, settings, times)

