"""LSTMModel: the forecasting API (fit / predict / forecast / evaluate / save / load).

``fit`` checks X and y, runs one training run (``minilstm.forecast.fitting``: split, normalizers, windows,
baseline, network, loop) and replaces the model's state only when that produced a usable network;
``predict`` and ``evaluate`` cut windows by the same contract (``minilstm.forecast.windows``).
"""
import numpy as np

from .._version import __version__
from ..backend import to_numpy
from ..errors import (  # noqa: F401
    ConfigError,
    DataError,
    InputTypeError,
    ModelFileError,
    NotFittedError,
    ShapeError,
    TrainingDivergedError,
)
from . import file_checks, many
from . import future as future_inputs
from . import io as model_io
from . import quantiles as qf
from .baselines import LinearAR
from .config import validate_config
from .fitting import apply_normalizer, fit_arrays, refit, train_run, valid_fraction, window_to_choose, with_window
from .gates import window_gates
from .inputs import (
    align_columns,
    check_same_index,
    in_dtype_range,
    is_datetime_index,
    labelled,
    read_table,
    target_positions,
    targets_from_y,
)
from .metrics import units_of
from .recursive import recursive_forecast
from .report import evaluation_report
from .scaling import window_transform
from .seasons import datetime_hint
from .training import build_network
from .windows import n_labeled, n_windows, sliding_windows, window_targets

MAX_STEPS = 100_000     # predict/forecast horizon limit: beyond it a recursive forecast is noise and memory


class LSTMModel:
    """An LSTM forecaster. ``LSTMModel(config)``; see ``minilstm.forecast.config.DEFAULTS`` for every key.

    >>> model = LSTMModel({'hidden_size': 32, 'epochs': 5})
    >>> model.fit(X, y)                 # X (samples, features) or (samples,), y (samples,) or (samples, targets)
    >>> model.predict(X)                # one prediction per window
    >>> model.evaluate(X_test, y_test)  # metrics in y's units, beside persistence, seasonal naive, linear AR
    """

    def __init__(self, config=None, **settings):
        if settings:   # LSTMModel(hidden_size=32) and LSTMModel(config, hidden_size=32): keywords win
            if config is not None and not isinstance(config, dict):
                raise ConfigError(f"config must be a dict of settings, got {type(config).__name__}.")
            config = {**(config or {}), **settings}
        self.config = validate_config(config)
        self.train_history = []
        self.is_fitted = False
        self._net = self.rnn = self.lstm = self.head = None
        self.x_normalizer = self.y_normalizer = None
        self.ar = None
        self.info = {}
        self._series = None           # a model over many series: its ids and per-series normalizers (forecast.many)

    # ---- the network -------------------------------------------------------------------
    def _build(self, n_features, n_targets, n_identity=0):
        """Install a new network for the current config (``load`` fills it with saved weights); n_identity: a
        model over many series' one-hot series columns (``forecast.many``)."""
        self._install(build_network(self.config, n_features + n_identity, n_targets), n_features, n_targets)

    def _install(self, net, n_features, n_targets):
        self._net, self.head, self.xp, self.device = net, net.head, net.xp, net.rnn.device
        self.rnn = self.lstm = net.rnn                # the recurrent layers (LSTM or GRU); .lstm: the old name
        self.n_features, self.n_targets = n_features, n_targets

    @property
    def params(self):
        """All trainable arrays: ``lstm.*`` and ``head.*`` (views of the layers' own dicts' arrays)."""
        return self._net.params

    def _set_params(self, params):
        self._net.set_params(params)

    def _forward(self, xb):
        """xb (B, L, F) on the device -> predictions (B, k * T) in normalized units."""
        return self._net.forward(xb)

    def _transform(self):
        """The fitted WindowTransform (scaling='window', a baseline), or None."""
        return self.__dict__.get("_window_transform")

    def _predict_windows(self, Xw, rows=None, smoothed=None):
        """Xw (n, L, F) host windows in normalized units -> (n, k*T) host predictions, eval mode.

        rows: the normalized rows the windows were cut from, Xw being their last n windows (the 'ets'
        baseline's states then carry every row before each window; without rows, each window's own);
        smoothed: that baseline's forecasts (n, k, T) given instead (recursive steps). A quantile model
        (loss='quantile') gives its median level (``quantiles.model_windows``)."""
        if self.config["loss"] == "quantile":
            return qf.model_windows(self, Xw, rows, smoothed)[..., qf.median_index(self.config["quantiles"])]
        out, wt = self.n_targets * self.config["output_steps"], self._transform()
        if wt is None:
            return self._net.predict(Xw, out)
        Xs, context = wt.inputs(Xw, rows, smoothed)
        P = self._net.predict(Xs, out).reshape(len(Xw), self.config["output_steps"], -1)
        return wt.outputs(Xs, P, context).reshape(len(Xw), out)

    # ---- input checking ---------------------------------------------------------------
    def _read_X(self, X, name="X"):
        """X at predict/evaluate time -> Table, columns realigned by name when the model was fitted on names."""
        t = align_columns(read_table(X, name), self.info.get("columns"), name)
        if t.values.shape[1] != self.n_features:
            raise ShapeError(f"{name} has {t.values.shape[1]} feature column(s) but the model was fitted on "
                             f"{self.n_features}; pass the same columns in the same order.")
        return t

    def _check_X(self, X, name="X"):
        return self._read_X(X, name).values

    def _require_fitted(self, what):
        if not self.is_fitted:
            raise NotFittedError(f"{what} needs a fitted model: call fit(X, y) first, or load a saved model.")

    def _fit_config(self, Xt, y, settings):
        """The config one fit trains with (the model's, with fit's keyword settings over it) and the y to read.

        y may name target columns of X (``fit(df, 'Demand')``); y=None on a one-column X forecasts that
        series (its own next values), as Darts' ``fit(series)`` does (``inputs.targets_from_y``). Returns
        (config, y, whether fit's y set target_columns: such columns are this fit's, and the next fit's y decides
        again).
        """
        base = dict(self.config)
        if self.info.get("targets_from_fit") and "target_columns" not in settings:
            base["target_columns"] = None                   # named by an earlier fit's y: this fit's y decides
        base = window_to_choose(base, self.info, settings)  # chosen by an earlier fit: this fit's data decide
        c = validate_config({**base, **settings})           # a config edited after construction is checked again
        n_cols = Xt.values.shape[1]
        target_columns, y, set_by_y = targets_from_y(c["target_columns"], y, n_cols)
        if y is None and target_columns is None:
            raise InputTypeError(f"y is None and X has {n_cols} columns: pass the targets (fit(X, y)), name the "
                                 "target column(s) of a DataFrame (fit(df, 'Demand')), or set "
                                 "config['target_columns']. With y omitted, a one-column X is forecast from "
                                 "its own past.")
        return (validate_config({**c, "target_columns": target_columns}) if set_by_y else c), y, set_by_y

    def _nx(self, X):
        """Rows (N, F) in X's units -> the rows the network reads, normalized: (N, F), or with known-future
        columns each row with its leads, (N - h - k + 1, F + leads) (``future.with_leads``)."""
        cols = future_inputs.positions(self.config, self.info.get("columns"), self.n_features)
        if cols is not None:
            X = future_inputs.with_leads(X, cols, self.config["horizon"], self.config["output_steps"])
        X = in_dtype_range(apply_normalizer(self.x_normalizer, X), self.lstm.dtype, "X")
        identity = self.__dict__.get("_identity")                    # one series of a model over many, one-hot
        return X if identity is None else np.concatenate([X, np.broadcast_to(identity, (len(X), len(identity)))], 1)

    def _one_or_many(self, X, what):
        """Whether X holds several series (a list, a dict, a long frame with config['series_column']); a model
        over many series takes only those, a model of one series only one."""
        several = many.is_many(X, self.config)
        if self.__dict__.get("_series") and not several:
            raise InputTypeError(f"this model was fitted on {len(self._series['ids'])} series: {what} takes them as "
                                 "a list (in the fitted order), a dict by series id, or a long DataFrame with "
                                 "config['series_column']; for one series, {id: X}.")
        if several and not self.__dict__.get("_series"):
            raise InputTypeError(f"this model was fitted on one series; {what} takes one (an array or a "
                                 "DataFrame), not several.")
        return several

    def _nx_windows(self, Xw):
        """Normalize (n, L, F) windows given in original units."""
        n, L, F = Xw.shape
        return self._nx(Xw.reshape(n * L, F)).reshape(n, L, -1)       # -1: a series' identity columns appended

    def _ny(self, y):
        return apply_normalizer(self.y_normalizer, y)

    def _inv_y(self, y):
        """y in normalized units (..., T) -> original units."""
        if self.y_normalizer is None:
            return y
        shape = y.shape
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.y_normalizer.inverse_transform(y.reshape(-1, shape[-1])).reshape(shape)
        if not np.isfinite(out).all():
            raise DataError("a prediction overflowed when mapped back to y's units (the target's scale is near the "
                            "float64 limit); divide y by a power of ten before fit and multiply the predictions back.")
        return out

    # ---- fit ------------------------------------------------------------------------------
    def fit(self, X, y=None, validation_split=0.1, verbose=True, validation_data=None, **settings):
        """Train on X (samples, features) or (samples,) and y (samples,) or (samples, targets).

        y: the targets; a column name or list of names of a DataFrame X (``fit(df, 'Demand')``: those
        columns are the targets and stay inputs); or None: the columns in config['target_columns'], or
        a one-column X forecast from its own past (``fit(series)``).
        Windows follow the contract of ``minilstm.forecast.windows``: rows [j, j+L) predict
        y[j+L-1+horizon] (and the next output_steps-1 rows). The last ``validation_split``
        fraction of windows, in time order, is held out (never shuffled; their targets never
        overlap a training target). ``validation_data=(X_val, y_val)`` validates on those rows
        instead and trains on every window of X (validation_split is then not used), as in Keras.
        Normalizers are fitted on the training rows only.
        Keyword settings are config keys for this fit (``fit(X, y, epochs=5, batch_size=64)``, as in
        Keras); the fitted model's ``config`` holds them afterwards, so it says how it was trained.
        Returns self; ``train_history`` holds one dict per epoch.

        Transactional: the config, data, normalizers, windows, a new network and the baseline
        are all built and checked first, and the model changes only once training has finished
        at least one epoch. Any failure before that leaves the model exactly as it was (an
        unfitted model stays unfitted). A divergence later keeps the best epoch's weights: the
        model is then the new one, usable, and ``TrainingDivergedError`` says what happened.
        """
        if many.is_many(X, {**self.config, **settings}):       # one model over many series
            if validation_data is not None:
                raise ConfigError("validation_data is for one series; a model over many series validates on the "
                                  "last validation_split of each series' windows.")
            return many.fit(self, X, y, validation_split, verbose, settings)
        Xt = read_table(X, "X")
        c, y, targets_from_fit = self._fit_config(Xt, y, settings)
        if not valid_fraction(validation_split):
            raise ConfigError(f"validation_split must be a number in [0, 1), got {validation_split!r}.")
        if validation_data is not None:
            validation_split = 0.0
        Xa, ya, y_1d, labels = fit_arrays(Xt, y, c)
        season_hint = datetime_hint(y, X)
        c, window_how = with_window(c, Xa, ya, season_hint, float(validation_split))
        if verbose and window_how is not None and "capped" in window_how:
            print(f"sequence_length {c['sequence_length']}: {window_how} (set sequence_length to choose another)")
        state = train_run(Xa, ya, y_1d, labels, c, float(validation_split), validation_data, season_hint, verbose,
                          self.is_fitted)
        result = state["result"]
        if c["refit_full"] and validation_data is None and state["info"]["n_val_windows"] and not result.diverged \
                and not result.interrupted:          # the epochs validation chose, now on every row
            state = refit(state, Xa, ya, y_1d, labels, c, season_hint, verbose)
        self.config = c
        self._install(state["net"], Xa.shape[1], ya.shape[1])
        self.x_normalizer, self.y_normalizer, self.ar, self.info = state["xn"], state["yn"], state["ar"], state["info"]
        self._series = None
        self._window_transform = state["transform"]
        self.info["targets_from_fit"] = targets_from_fit
        if window_how is not None:                    # chosen here: the next fit chooses again
            self.info.update(sequence_length_chosen=c["sequence_length"], sequence_length_how=window_how)
        self.train_history, self._y_1d, self.is_fitted = result.history, y_1d, True
        self._univariate = Xa.shape[1] == 1 and ya.shape[1] == 1 and np.array_equal(Xa[:, 0], ya[:, 0])
        if result.diverged:
            raise TrainingDivergedError(result.diverged + f" The best weights so far (epoch {result.best_epoch}) "
                                        "were kept and the model is usable.")
        return self

    # ---- predict / forecast ---------------------------------------------------------------
    def _shape_out(self, P, steps):
        """P (n, steps, T) -> (n, T) or (n,) for steps == 1; (n, steps) when y was 1-D."""
        if steps == 1:
            P = P[:, 0, :]
            return P[:, 0] if self._y_1d else P
        return P[:, :, 0] if self._y_1d else P

    def predict(self, X, steps=None, quantiles=False):
        """One prediction per window of X (N - L + 1 windows; the last forecasts past the end of X).

        steps: how many steps ahead; None (the default) is what the model was trained for, its
        ``output_steps`` (1 unless set), so a model trained for k steps returns all k.
        steps = 1: shape (n_windows,) when y was 1-D in fit, else (n_windows, n_targets).
        steps = k > 1: (n_windows, k) or (n_windows, k, n_targets). A model trained with
        output_steps >= k predicts all k at once (direct); one trained with output_steps = 1 feeds
        its predictions back (recursive), which needs every input column to be a target
        (a univariate series, or config['target_columns'] covering all columns) and horizon = 1.
        Values are in y's original units.

        A quantile model (config['loss'] = 'quantile'): without ``quantiles=True`` it returns its median
        level in the shapes above (0.5 when config['quantiles'] lists it, else the middle level,
        ``quantiles.median_index``), so it is a drop-in point forecaster. ``quantiles=True`` returns every
        level: the shapes above with one more, last axis of length Q in config['quantiles'] order ((n_windows,
        Q) for a 1-D y and one step; a DataFrame with one column per level for a datetime-indexed X, NumPy
        otherwise). The levels of each prediction are sorted, so they never cross (q_0.1 <= q_0.5 <= q_0.9
        always; see ``quantiles.sort_levels``). Quantile forecasts are direct: steps <= output_steps.
        """
        self._require_fitted("predict")
        if self._one_or_many(X, "predict"):
            return many.per_series(self, X, "predict", lambda m, Xi, _y, _id: m.predict(Xi, steps, quantiles))
        steps = self._steps(steps)
        _check_flag(quantiles, "quantiles")
        Xt = self._read_X(X)
        L, extra = self.config["sequence_length"], future_inputs.extra_rows(self.config)
        if n_windows(len(Xt.values) - extra, L) < 1:
            raise DataError(f"X has {len(Xt.values)} rows; predict needs at least sequence_length = {L}" +
                            (f" plus the {extra} rows after a window whose known-future columns it reads (a "
                             "window's prediction needs them: forecast(X_history, future=...) takes them "
                             "separately)" if extra else "") + ".")
        if quantiles:
            return qf.model_predict(self, Xt, steps)
        P = self._predict_rows(Xt.values, steps)
        return self._pandas_out(self._shape_out(P, steps), Xt, L - 1 + self.config["horizon"],
                                steps > 1 and self._y_1d)

    def _steps(self, steps):
        """predict/forecast's steps: None -> the model's output_steps; else an integer in [1, MAX_STEPS]."""
        if steps is None:
            return self.config["output_steps"]
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
            raise ConfigError(f"steps must be an integer in [1, {MAX_STEPS:,}], got {steps!r}.")
        return int(steps)

    def _windows_at(self, Xa, origins=None):
        """Rows (N, F), original units -> (windows (n, L, F) normalized, rows, smoothed) for every window, or the
        windows [o - L, o) of ``origins``; only the 'ets' baseline reads rows before them (smoothed: its forecasts)."""
        L, wt = self.config["sequence_length"], self._transform()
        pick = None if origins is None else np.asarray(origins) - L
        if pick is not None and (wt is None or wt.smoother is None):      # the windows' own rows only
            return sliding_windows(self._nx(Xa[pick.min():]), L)[pick - pick.min()], None, None
        rows = self._nx(Xa)
        Xw = sliding_windows(rows, L)
        return (Xw, rows, None) if pick is None else (Xw[pick], None, wt.smoothed(Xw, rows)[pick])

    def _predict_rows(self, Xa, steps, origins=None):
        """Rows (N, F) in original units -> predictions (n, steps, T) for every window of them, or for the
        windows that end just before each row in ``origins`` (``_windows_at``; o = N: the last window)."""
        k, T = self.config["output_steps"], self.n_targets
        if steps > k:
            if k > 1 or self.config["future_columns"]:
                raise ConfigError(f"the model predicts {k} steps at once (output_steps={k}); steps={steps} exceeds "
                                  f"it. Retrain with output_steps={steps}, or use steps <= {k}.")
            return recursive_forecast(self, Xa, steps, origins)
        Xw, rows, smoothed = self._windows_at(Xa, origins)
        return self._inv_y(self._predict_windows(Xw, rows, smoothed).reshape(-1, k, T)[:, :steps])

    def _pandas_out(self, out, Xt, first_position, step_columns=False):
        """Arrays, or pandas indexed by target time when fitted and called with a DatetimeIndex."""
        if not (self.info.get("time_index") and is_datetime_index(Xt.index)):
            return out
        return labelled(out, Xt.index, first_position, self.info.get("target_names"), self.info.get("freq"),
                        step_columns)

    def _target_positions(self):
        """config['target_columns'] as positions in the fitted X's columns (None when not set)."""
        return target_positions(self.config["target_columns"], self.info.get("columns"), self.n_features)

    def gate_activations(self, X, window=-1, layer=-1, direction=0):
        """The gates of one window the model sees: f, i, c_tilde, o, C, h (a GRU: r, z, n, h), each
        (sequence_length, hidden_size). ``direction`` 1 picks a bidirectional model's reverse direction
        (its gates in the window's time order).

        X is given as to ``predict`` (original units); window ``j`` covers rows [j, j + sequence_length)
        of X after the model's own input normalizer (the windowing contract), ``window=-1`` the last one.
        ``layer`` picks the stacked layer (-1: the top one). Eval mode (no dropout), NumPy arrays.
        """
        self._require_fitted("gate_activations")
        return window_gates(self, self._check_X(X), window, layer, direction)

    def forecast(self, X_history, steps=None, quantiles=False, future=None):
        """The next ``steps`` values after the end of X_history: (steps,) or (steps, n_targets).

        steps: None (the default) is the model's ``output_steps`` (1 unless set), as in ``predict``.
        quantiles: as in ``predict`` (a quantile model's median level without it; with it every level on a
        last axis, sorted: (1, Q) for a 1-D y and one step, else (steps, Q) or (steps, n_targets, Q)).
        future: with config['future_columns'], their values over the horizon + output_steps - 1 rows after
        X_history (a DataFrame with those columns, or an array in their order; ``forecast.future``).
        """
        self._require_fitted("forecast")
        if self._one_or_many(X_history, "forecast"):
            return many.per_series(self, X_history, "forecast", lambda m, Xi, _y, sid: m.forecast(
                Xi, steps, quantiles, many.series_future(future, sid, X_history, self.config["series_column"])),
                "X_history")
        steps = self._steps(steps)
        _check_flag(quantiles, "quantiles")
        Xt = self._read_X(X_history, "X_history")
        L, N = self.config["sequence_length"], len(Xt.values)
        if N < L:
            raise DataError(f"X_history has {N} rows; forecast needs at least sequence_length = {L}.")
        cols = future_inputs.positions(self.config, self.info.get("columns"), self.n_features)
        if cols is not None:
            Xt = Xt._replace(values=future_inputs.join_future(Xt.values, future, cols, self.info.get("columns"),
                                                              self.config, history_index=Xt.index,
                                                              freq=self.info.get("freq")))
        elif future is not None:
            raise ConfigError("future= is for a model fitted with config['future_columns']; this one reads none.")
        if quantiles:
            return qf.model_predict(self, Xt, steps, origins=[N])
        P = self._shape_out(self._predict_rows(Xt.values, steps, origins=[N]), steps)
        out = P[-1] if steps > 1 else P[-1:].reshape(-1) if self._y_1d else P[-1:]
        return self._pandas_out(out, Xt, N - 1 + self.config["horizon"])

    # ---- evaluate ---------------------------------------------------------------------------
    def evaluate(self, X, y=None, season=None, verbose=True, units=None):
        """Score the model on every labeled window of (X, y), in y's original units.

        Returns a dict: mse, rmse, mae, mape (%; zero targets excluded, count in mape_excluded),
        smape (%), r2 (per target, then averaged), mase (scaled by the in-sample one-step
        persistence MAE of the training targets), n_scored, and ``baselines`` with the same
        metrics for persistence, seasonal naive (season given, configured, from the data's
        frequency or inferred: ``metrics.choose_season``), the linear autoregression fitted on the
        training windows, the training mean and zero, all on exactly the same target rows.
        The result is a ``metrics.EvaluationReport``: a dict that displays as the table (with the
        units, given or read from pandas ``attrs``, and the season and how it was chosen).
        ``verbose`` prints the table. A quantile model is scored on its median level and the report adds
        ``quantiles``, ``pinball``, ``pinball_by_quantile`` and ``intervals`` {nominal: {'lower', 'upper',
        'coverage', 'mean_width', 'n'}} (``quantiles.quantile_metrics``).

        One training run is one sample: the seed sets the initial weights, the dropout masks and
        the batch order, and on real series a single run's test RMSE moves by several percent from
        seed to seed (the baselines do not). To compare two settings, train each with several
        seeds and compare the means, paired by seed (``benchmarks/bench_accuracy.py``).
        """
        self._require_fitted("evaluate")
        if self._one_or_many(X, "evaluate"):
            return many.per_series(self, X, "evaluate", lambda m, Xi, yi, _id: m.evaluate(Xi, yi, season, verbose,
                                                                                           units), y=y)
        if season is not None and (isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1):
            raise ConfigError(f"season must be None (the model's) or an integer >= 1 (rows per season), "
                              f"got {season!r}.")
        if y is None and self.config["target_columns"] is None:
            raise InputTypeError("evaluate needs y (or a model with config['target_columns']).")
        Xt = self._read_X(X)
        Xa = Xt.values
        if y is None:
            ya = Xa[:, self._target_positions()]
        else:
            yt = read_table(y, "y")
            ya = yt.values
        if len(ya) != len(Xa):
            raise ShapeError(f"X has {len(Xa)} rows but y has {len(ya)}; they must be aligned row by row.")
        if y is not None:
            check_same_index(Xt, yt)
        if ya.shape[1] != self.n_targets:
            raise ShapeError(f"y has {ya.shape[1]} column(s) but the model predicts {self.n_targets}.")
        c = self.config
        L, h, k = c["sequence_length"], c["horizon"], c["output_steps"]
        n = n_labeled(len(Xa), L, h, k)
        if n < 1:
            raise DataError(f"evaluate needs at least sequence_length + horizon + output_steps - 1 = {L + h + k - 1} "
                            f"rows, got {len(Xa)}.")
        truth = window_targets(ya, L, h, k)                                       # (n, k, T)
        Xw = sliding_windows(self._nx(Xa), L)[:n]
        pred = self._inv_y(self._predict_windows(Xw, self._nx(Xa)[:n + L - 1]).reshape(n, k, -1))
        scale = np.asarray(self.info["mase_scale"])
        ar = self._inv_y(self.ar.predict(Xw).reshape(n, k, -1))
        how = "given to evaluate" if season else self.info.get("season_how", "stored with the model")
        res = evaluation_report(truth, pred, ya, n, L, h, k, scale, ar, season or self.info.get("season") or 1, how,
                                self.info.get("y_mean"), units if units is not None else units_of(y, X),
                                model=self.config["cell"].upper())
        if self.config["loss"] == "quantile":           # the point metrics above score the median level
            res.update(qf.model_report(self, Xa, truth, n, res.get("notes", [])))
        if verbose:
            res.show()
        return res

    # ---- save / load --------------------------------------------------------------------------
    def save(self, path):
        """Write the model to one file (zip of JSON + .npy; no pickle), atomically. Any file name works.

        An existing file keeps its permissions (a new one gets the umask default); a symbolic link is
        followed and its target replaced; folders, devices, FIFOs, sockets and read-only files are
        refused. Any failure raises ``ModelFileError`` and leaves the old file as it was.
        """
        self._require_fitted("save")
        arrays = {k: to_numpy(v) for k, v in self.params.items()}
        arrays.update(self.ar.to_arrays())
        meta = {"library_version": __version__, "config": self.config, "train_history": self.train_history,
                "n_features": self.n_features, "n_targets": self.n_targets, "info": self.info,
                "univariate": bool(getattr(self, "_univariate", False)),
                "x_normalizer": self.x_normalizer.to_dict() if self.x_normalizer else None,
                "y_normalizer": self.y_normalizer.to_dict() if self.y_normalizer else None,
                "series": many.to_meta(self._series) if self.__dict__.get("_series") else None}
        model_io.write_model_file(path, meta, arrays)
        return path

    @model_io.class_or_instance_method
    def load(self, path, device=None):
        """Load a saved model and return it: ``LSTMModel.load(path)`` or ``LSTMModel().load(path)``.

        Every array size, metadata field and normalizer state is checked before use (``ModelFileError``
        otherwise); the object changes only when the whole file is valid. ``device`` overrides the saved
        device ('cpu' by default when the saved one is not available, so a model trained on CUDA loads
        on a CPU-only machine).
        """
        meta, arrays = model_io.read_model_file(path)
        if meta.get("kind") == "ensemble":
            raise ModelFileError(f"{path!r} holds an ensemble (LSTMEnsemble.save), not a single model: load it with "
                                 "LSTMEnsemble.load(path).")
        parts = file_checks.check_metadata(path, meta, arrays, device=device)
        c, F, T, S = parts["config"], parts["n_features"], parts["n_targets"], parts["n_identity"]
        LF, out = c["sequence_length"] * (F + future_inputs.n_leads(c) + S), T * c["output_steps"]
        m = type(self)(c)
        m._build(F, T, S)
        params, ar = file_checks.check_weights(path, {k: v.shape for k, v in m.params.items()}, arrays,
                                            {"ar_coef": (LF + 1, out), "ar_mu": (LF,), "ar_sd": (LF,)}, c["dtype"])
        m._set_params(params)
        m.ar = LinearAR.from_arrays(ar)
        m.x_normalizer, m.y_normalizer = parts["x_normalizer"], parts["y_normalizer"]
        m.train_history, m.info, m._series = parts["train_history"], parts["info"], parts["series"]
        m._y_1d = bool(m.info.get("y_1d", False))
        m._univariate = parts["univariate"]
        m._window_transform = window_transform(c, m.info)
        m.is_fitted = True
        self.__dict__.clear()
        self.__dict__.update(m.__dict__)
        return self

    @classmethod
    def from_file(cls, path, device=None):
        """``LSTMModel.from_file(path)``: the same as ``LSTMModel.load(path)``."""
        return cls().load(path, device=device)

    def __reduce__(self):
        """pickle and ``copy.deepcopy``: a fitted model travels as the bytes of its model file (``save``), an
        unfitted one as its config in JSON; unpickling checks them as ``load`` and ``LSTMModel(config)`` do."""
        if self.is_fitted:
            return _unpickle, (type(self), model_io.file_bytes(self.save))
        return _unpickle, (type(self), model_io.config_text(self.config))

    def __repr__(self):
        c = self.config
        return (f"LSTMModel(cell={c['cell']!r}, hidden_size={c['hidden_size']}, num_layers={c['num_layers']}, "
                f"sequence_length={c['sequence_length']}, fitted={self.is_fitted})")


def _check_flag(value, name):
    """predict/forecast's True/False options."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False, got {value!r}.")


def _unpickle(cls, payload):
    """A pickled LSTMModel: model-file bytes (checked as ``load`` checks a file) or an unfitted model's config."""
    what = "a pickled LSTMModel"
    if not (isinstance(cls, type) and issubclass(cls, LSTMModel)):
        raise ModelFileError(f"{what} names {cls!r}, not an LSTMModel class; the pickle was not written by minilstm.")
    if isinstance(payload, str):
        try:
            return cls(model_io.config_from_text(payload, what))
        except ConfigError as e:
            raise ModelFileError(f"{what}: its config is invalid ({e}).") from None
    return model_io.from_file_bytes(cls().load, payload, what)
