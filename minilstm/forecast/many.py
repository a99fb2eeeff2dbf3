r"""One model over many series: ``LSTMModel.fit([X1, X2, ...], [y1, y2, ...])``, Darts' and NeuralForecast's
global model.

The series come as a list of NumPy arrays or pandas objects (``[X1, X2]``, ids 0, 1, ...; a list of Python lists
is still one table's rows), a dict (``{'AAPL': X1, 'GOOG': X2}``, ids its keys),
or one long DataFrame whose column ``config['series_column']`` says which series each row belongs to (rows in
time order within each series). Every series must have the same columns. For series i with N_i rows::

    its normalizers     fitted on its own training rows (as one series' are), so every series reaches the
                        network in the units of its own level and spread
    its windows         j = 0 .. n_i - 1 over its own rows only; the last validation_split of them (in time
                        order, after a gap of output_steps - 1) validate, the others train
    one network         trained on the training windows of every series together, shuffled

The series' normalized rows are stacked in one array, series i from row o_i = N_1 + ... + N_{i-1}, and window
j of series i is window o_i + j of that array: only those are ever used, so no window reads rows of two series
(``tests/test_many.py``). Windows are views of the rows, gathered batch by batch when the training windows would
take more than ``training.GATHER_BYTES`` (memory bounded by the batch, not by the number of series).
``config['series_identity'] = 'onehot'`` adds one 0/1 input column per series (which series a window is), so
the network can learn what is particular to each; by default it learns what the series share.

A series with fewer rows than one training window needs is left out, with a printed count (an error when none
is left). predict, forecast and evaluate take the series the same ways (a list: by position; a dict or a long
frame: by id) and return one result per series (a list for a list, else a dict by id); each series is read
with its own normalizers by ``series_model``, an ``LSTMModel`` for that series alone that shares the network.
"""
import numpy as np

from ..errors import ConfigError, DataError, InputTypeError, ShapeError
from .fitting import apply_normalizer, fit_arrays, fitted_normalizers, network_rows, split, window_to_choose
from .inputs import is_pandas, read_table, targets_from_y
from .seasons import DEFAULT_WINDOW
from .windows import sliding_windows, window_targets

ONEHOT_BYTES = 2 ** 30  # the one-hot identity columns of every row may take at most this much memory
AR_WINDOWS = 20_000     # the linear AR baseline of a global model is fitted on at most this many training windows


def is_many(X, config):
    """Whether fit/predict/forecast/evaluate's X holds several series."""
    col = config.get("series_column")
    if col is not None and hasattr(X, "columns") and col not in X.columns:
        raise ConfigError(f"config['series_column'] = {col!r} but the DataFrame has no such column; its columns "
                          f"are {list(X.columns)}. Name the column that says which series each row is.")
    if isinstance(X, (list, tuple)):         # of arrays or pandas objects: a list of Python lists is a table's rows
        return len(X) > 0 and all(isinstance(v, np.ndarray) or is_pandas(v) for v in X)
    return isinstance(X, dict) or (col is not None and hasattr(X, "columns"))


def as_series(X, y, config, name="X"):
    """X (and y) as given -> [(id, X_i, y_i)], ids strings in order."""
    col = config.get("series_column")
    if isinstance(X, dict):
        pairs = list(X.items())
    elif isinstance(X, (list, tuple)):
        pairs = list(enumerate(X))
    elif col is not None and hasattr(X, "columns"):
        if col not in X.columns:
            raise ConfigError(f"config['series_column'] = {col!r} but {name} has no such column; its columns are "
                              f"{list(X.columns)}.")
        missing = int(X[col].isna().sum())
        if missing:
            raise DataError(f"{name}'s series column {col!r} is missing on {missing} row(s); every row must say "
                            "which series it belongs to (no row is dropped silently).")
        pairs = [(k, g.drop(columns=[col])) for k, g in X.groupby(col, sort=False, observed=True)]
    else:
        raise InputTypeError(f"{name} must hold several series: a list or dict of arrays or DataFrames, or a long "
                             "DataFrame with config['series_column'].")
    if not pairs:
        raise DataError(f"{name} holds no series.")
    for k, v in pairs:
        if np.ndim(v) == 0 or isinstance(v, (str, bytes, dict)):
            raise InputTypeError(f"{name} is read as several series (a {type(X).__name__}), but series {k!r} is a "
                                 f"{type(v).__name__}, not an array or DataFrame. Pass one series as an array "
                                 "(N,) or (N, F) or a DataFrame; several as a list or dict of them.")
    ids = [str(k) for k, _ in pairs]
    if len(set(ids)) != len(ids):
        raise DataError(f"{name}'s series ids are not unique as text: {ids}.")
    if isinstance(y, (list, tuple)) and not (y and all(isinstance(v, str) for v in y)):
        if len(y) != len(pairs):
            raise ShapeError(f"{name} holds {len(pairs)} series but y holds {len(y)}; pass one y per series.")
        ys = list(y)
    elif isinstance(y, dict):
        missing = [k for k, _ in pairs if k not in y]
        if missing:
            raise ShapeError(f"y has no series {missing}; pass one y per series of {name}.")
        ys = [y[k] for k, _ in pairs]
    else:
        ys = [y] * len(pairs)                              # a column name (or names), or None: the same for each
    return [(i, Xi, yi) for i, (_, Xi), yi in zip(ids, pairs, ys)]


def identity_columns(n_rows, index, n_series):
    """(n_rows, n_series) one-hot columns saying which series the rows are (``series_identity='onehot'``)."""
    out = np.zeros((n_rows, n_series))
    out[:, index] = 1.0
    return out


def train_rows(series, c, validation_split, verbose):
    """Check every series and cut its windows -> dict: ids (kept), skipped, Xn (rows, F'), Y (windows, k*T),
    Xw (windows view), tr, va (window indices), normalizers (per kept series), labels, y_1d, per-series facts."""
    from .metrics import naive_scale, training_mean
    from .seasons import season_info
    L, h, k = c["sequence_length"], c["horizon"], c["output_steps"]
    parts, skipped, labels0 = [], [], None
    for sid, Xi, yi in series:
        Xt = read_table(Xi, f"series {sid}'s X")
        tcs, yi, by_y = targets_from_y(c["target_columns"], yi, Xt.values.shape[1])
        if yi is None and tcs is None:
            raise InputTypeError(f"series {sid} has {Xt.values.shape[1]} columns and no y: pass one y per series, "
                                 "name the target column(s) (fit([df1, df2], 'Demand')), or set "
                                 "config['target_columns'].")
        c = dict(c, target_columns=tcs)
        Xa, ya, y_1d, labels = fit_arrays(Xt, yi, c)
        if labels0 is None:
            labels0, shape0 = labels, (Xa.shape[1], ya.shape[1])
        elif labels["columns"] != labels0["columns"] or (Xa.shape[1], ya.shape[1]) != shape0:
            raise ShapeError(f"series {sid} has columns {labels['columns'] or Xa.shape[1]} and {ya.shape[1]} "
                             f"target(s); the first series has {labels0['columns'] or shape0[0]} and {shape0[1]}. "
                             "Every series must have the same columns.")
        try:
            n, n_train, n_val = split(len(Xa), L, h, k, validation_split)
        except DataError:
            skipped.append(sid)
            continue
        last = n_train - 1 + L - 1 + h + k - 1
        Xin = network_rows(Xa, ya, labels, c)
        xn, yn = fitted_normalizers(c, Xin, ya, last)
        parts.append({"id": sid, "F": Xa.shape[1], "T": ya.shape[1], "n": n, "n_train": n_train, "n_val": n_val,
                      "Xn": apply_normalizer(xn, Xin), "yn": apply_normalizer(yn, ya), "xn": xn, "yn_": yn,
                      "y_1d": y_1d, "mase_scale": naive_scale(ya[:last + 1]).tolist(),
                      "y_mean": training_mean(ya[:last + 1]),
                      "season": int(season_info(ya[:last + 1], None, c["season"])["season"] or 1)})
    if not parts:
        raise DataError(f"no series has enough rows for one training window (sequence_length={L}, horizon={h}, "
                        f"output_steps={k}: at least {L + h + k - 1} rows, more with a validation split): "
                        f"{len(skipped)} series skipped. Set a shorter sequence_length or output_steps, or pass "
                        "longer series.")
    if skipped and verbose is not False:
        print(f"{len(skipped)} of {len(series)} series skipped: fewer rows than one training window needs "
              f"({L + h + k - 1}, more with validation_split={validation_split}): {skipped[:10]}"
              f"{' ...' if len(skipped) > 10 else ''}")
    S = len(parts)
    if c.get("series_identity") == "onehot":
        size = sum(len(p["Xn"]) for p in parts) * S * 8
        if size > ONEHOT_BYTES:
            raise ConfigError(f"series_identity='onehot' over {S} series would add {S} input columns to every one of "
                              f"their {size // (8 * S):,} rows ({size / 2 ** 30:.1f} GiB); leave series_identity "
                              "None (the series share one network) or fit fewer series together.")
        for i, p in enumerate(parts):
            p["Xn"] = np.concatenate([p["Xn"], identity_columns(len(p["Xn"]), i, S)], axis=1)
    offsets = np.cumsum([0] + [len(p["Xn"]) for p in parts[:-1]])
    Xn = np.concatenate([p["Xn"] for p in parts])
    # each series' windows' targets from its own rows (they never reach past them)
    Y = np.concatenate([window_targets(p["yn"], L, h, k)[:p["n"]].reshape(p["n"], -1) for p in parts])
    starts = np.concatenate([o + np.arange(p["n"]) for o, p in zip(offsets, parts)])     # window -> row
    first = np.cumsum([0] + [p["n"] for p in parts[:-1]])
    tr = np.concatenate([f + np.arange(p["n_train"]) for f, p in zip(first, parts)])
    va = np.concatenate([f + np.arange(p["n"] - p["n_val"], p["n"]) for f, p in zip(first, parts)])
    return {"parts": parts, "skipped": skipped, "labels": labels0, "Xw": WindowRows(Xn, starts, L), "Y": Y,
            "tr": tr, "va": va, "config": c, "targets_from_fit": by_y}


class WindowRows:
    """The windows (n, L, F) of many series as one indexable object: window w is rows starts[w] .. + L of the
    stacked rows. ``windows[idx]`` copies only the windows asked for (a batch); nothing else is materialised."""

    def __init__(self, rows, starts, L):
        self.rows, self.starts, self.L = rows, np.asarray(starts), L
        self._view = sliding_windows(rows, L)                 # a view: no copy

    def __len__(self):
        return len(self.starts)

    @property
    def shape(self):
        return (len(self.starts), self.L, self.rows.shape[1])

    @property
    def dtype(self):
        return self.rows.dtype

    def __getitem__(self, idx):
        return self._view[self.starts[idx]]


def series_model(model, i):
    """An LSTMModel for series i alone (its normalizers, scale and identity), sharing the network: what
    predict, forecast and evaluate run for each series."""
    s = model._series
    one = object.__new__(type(model))                         # not copy.copy: a model copies as its file
    one.__dict__ = dict(model.__dict__)
    one._series = None
    one.config = dict(model.config, series_column=None)     # its rows come without the series column
    one.x_normalizer, one.y_normalizer = s["x_normalizers"][i], s["y_normalizers"][i]
    one.info = dict(model.info, mase_scale=s["mase_scale"][i], y_mean=s["y_mean"][i], season=s["season"][i])
    one._identity = identity_columns(1, i, len(s["ids"]))[0] if model.config.get("series_identity") else None
    return one


def per_series(model, X, what, call, name="X", y=None):
    """Run call(series_model, X_i, y_i, id) for each series of X (and y, read as ``fit`` reads it) -> a list (X
    a list) or a dict by id."""
    ids, skipped = model._series["ids"], model.info.get("series_skipped", [])
    series = as_series(X, y, model.config, name)
    if isinstance(X, (list, tuple)) and len(series) != len(ids) + len(skipped):
        raise ShapeError(f"the model was fitted on a list of {len(ids) + len(skipped)} series; {what} got a list "
                         f"of {len(series)}. Pass them in the same order, or a dict by series id ({ids[:10]}).")
    out = []
    for sid, Xi, yi in series:                              # a list's ids are its positions, as in fit
        if sid in skipped:
            raise DataError(f"series {sid!r} was skipped in fit (fewer rows than one training window), so the "
                            "model has no normalizers for it; leave it out (a dict by id) or fit it with more rows.")
        if sid not in ids:
            raise DataError(f"series {sid!r} is not one the model was fitted on ({ids[:10]}"
                            f"{' ...' if len(ids) > 10 else ''}).")
        out.append((sid, call(series_model(model, ids.index(sid)), Xi, yi, sid)))
    return [v for _, v in out] if isinstance(X, (list, tuple)) else dict(out)


def series_future(future, sid, X, col):
    """forecast's ``future=`` for series ``sid`` of X: future holds one per series as X does (a list by position,
    a dict by id, a long frame by the series column ``col``), or is None."""
    if future is None:
        return None
    if isinstance(X, (list, tuple)):
        if not isinstance(future, (list, tuple)) or len(future) != len(X):
            raise ShapeError(f"X_history holds {len(X)} series: future must be a list of as many.")
        return future[int(sid)]
    if isinstance(future, dict):
        groups = {str(k): v for k, v in future.items()}
    elif col is not None and hasattr(future, "columns") and col in future.columns:
        if future[col].isna().any():
            raise DataError(f"future's series column {col!r} is missing on some rows; every row must name its series.")
        groups = {str(k): g.drop(columns=[col]) for k, g in future.groupby(col, sort=False, observed=True)}
    else:
        raise ShapeError("future must hold each series' rows as X_history does: a list, a dict by series id, or "
                         "a long DataFrame with the series column.")
    if sid not in groups:
        raise ShapeError(f"future has no rows for series {sid!r}; pass them for every series of X_history.")
    return groups[sid]


def check_config(c):
    """The options a global model does not take (yet): each would need a per-series state."""
    bad = [f"{k}={c[k]!r}" for k, ok in (("baseline", (None, "ets_univariate")), ("scaling", (None,)),
                                          ("refit_full", (False,)), ("loss", ("mse", "mae", "huber")))
           if c[k] not in ok]
    if bad:
        raise ConfigError(f"a model over many series does not take {', '.join(bad)}: the smoother, per-window "
                          "scaling, the refit and quantile levels are per series. Leave them at their defaults "
                          "(mse loss), or fit one model per series.")


def fit(model, X, y, validation_split, verbose, settings):
    """``LSTMModel.fit`` on several series (see the module): builds and trains, then installs into ``model``
    only when an epoch finished (as one series' fit does). Returns the model."""
    from ..errors import TrainingDivergedError
    from . import training
    from .baselines import LinearAR
    from .config import validate_config
    c = validate_config({**window_to_choose(model.config, model.info, settings), **settings})
    chosen = c["sequence_length"] is None              # the series' seasons may differ: the default window
    c = {**c, "sequence_length": DEFAULT_WINDOW} if chosen else c
    check_config(c)
    data = train_rows(as_series(X, y, c), c, float(validation_split), verbose)
    parts, Xw, Y, tr, va = data["parts"], data["Xw"], data["Y"], data["tr"], data["va"]
    S = len(parts) if c.get("series_identity") == "onehot" else 0
    F, T = parts[0]["F"], parts[0]["T"]
    net = training.build_network(c, F + S, T)
    sub = tr[::max(1, len(tr) // AR_WINDOWS)]
    ar = LinearAR().fit(Xw[sub], Y[sub])
    result = training.train(net, Xw, Y, tr, va, c, verbose)
    if result.best_epoch == 0:
        if result.interrupted:
            raise KeyboardInterrupt
        raise TrainingDivergedError(result.diverged + " No epoch had finished, so nothing changed.")
    ids = [p["id"] for p in parts]
    model.config = validate_config(data["config"])          # target columns as the series' y named them
    model._install(net, F, T)
    model.x_normalizer = model.y_normalizer = None
    model.ar, model._window_transform = ar, None
    model._series = {"ids": ids, "x_normalizers": [p["xn"] for p in parts],
                     "y_normalizers": [p["yn_"] for p in parts], "mase_scale": [p["mase_scale"] for p in parts],
                     "y_mean": [p["y_mean"] for p in parts], "season": [p["season"] for p in parts]}
    model.info = {**data["labels"], "series_ids": ids, "series_skipped": data["skipped"], "n_identity": S,
                  "n_rows": int(sum(len(p["Xn"]) for p in parts)), "n_train_windows": int(len(tr)),
                  "n_val_windows": int(len(va)), "best_epoch": result.best_epoch, "baseline": None,
                  "targets_from_fit": data["targets_from_fit"], "y_1d": parts[0]["y_1d"],
                  "mase_scale": parts[0]["mase_scale"], "y_mean": parts[0]["y_mean"], "season": parts[0]["season"],
                  "season_how": "per series"}
    if chosen:
        model.info.update(sequence_length_chosen=DEFAULT_WINDOW, sequence_length_how="the default (many series)")
    model.train_history, model._y_1d, model.is_fitted = result.history, parts[0]["y_1d"], True
    model._univariate = False
    if result.diverged:
        raise TrainingDivergedError(result.diverged + f" The best weights so far (epoch {result.best_epoch}) "
                                    "were kept and the model is usable.")
    return model


def to_meta(series):
    """The per-series state for the model file (JSON): ids, normalizers as dicts, scales, means, seasons."""
    return {"ids": series["ids"], "mase_scale": series["mase_scale"], "y_mean": series["y_mean"],
            "season": series["season"],
            "x_normalizers": [n.to_dict() if n is not None else None for n in series["x_normalizers"]],
            "y_normalizers": [n.to_dict() if n is not None else None for n in series["y_normalizers"]]}


__all__ = ["WindowRows", "as_series", "fit", "identity_columns", "is_many", "per_series", "series_future",
           "series_model", "to_meta", "train_rows"]
