"""One training run of ``LSTMModel.fit``, on checked arrays: the chronological split, the normalizers
fitted on the training rows, the windows, the baseline the network's residual is learned over, a new
network, the loop (``training.train``), the network-or-baseline choice (and, where the smoother is kept
alone, its parameters chosen again on every row) and ``refit_full``'s second run.

Nothing here touches a model: ``train_run`` returns what ``LSTMModel.fit`` installs once it succeeded.
"""
import numpy as np

from ..errors import ConfigError, DataError, InputTypeError, ShapeError, TrainingDivergedError
from . import future, training
from .baselines import LinearAR
from .config import normalizer_spec, validate_config
from .inputs import (
    align_columns,
    check_same_index,
    freq_string,
    in_dtype_range,
    is_datetime_index,
    read_table,
    target_positions,
)
from .metrics import naive_scale, training_mean
from .normalizer import DataNormalizer
from .quantiles import conformal_widening, sort_levels
from .scaling import fitted_smoother, target_history, window_transform
from .seasons import WINDOW_SEASON_MAX, choose_season, season_info, window_length
from .training import build_network
from .windows import n_labeled, sliding_windows, window_targets

SE_TO_KEEP = 1.0        # a baseline's network is kept when its validation gain exceeds this many standard errors


def apply_normalizer(normalizer, A):
    """A (N, F) through a fitted normalizer (None: unchanged)."""
    return A if normalizer is None else normalizer.transform(A)


def fitted_normalizers(c, Xin, ya, last_row):
    """(x normalizer, y normalizer) for config c, fitted on rows 0..last_row of the rows the network reads and of
    y (the training rows: the last a training target touches), or (None, None) without normalization."""
    spec = normalizer_spec(c["normalize"])
    if spec is None:
        return None, None
    xn, yn = DataNormalizer(spec), DataNormalizer(spec)
    xn.fit(Xin[:last_row + 1])
    yn.fit(ya[:last_row + 1])
    return xn, yn


def valid_fraction(validation_split):
    """Whether validation_split is one ``LSTMModel.fit`` takes: a real number in [0, 1), not a bool."""
    return not isinstance(validation_split, bool) and isinstance(validation_split, (int, float, np.floating)) and \
        0.0 <= validation_split < 1.0


def split(n_rows, L, h, k, validation_split):
    """Windows in time order -> (labeled, training, validation) counts; a gap of k-1 windows keeps
    validation targets off training targets."""
    n = n_labeled(n_rows, L, h, k)
    if n < 1:
        raise DataError(f"X has {n_rows} rows, too few for sequence_length={L}, horizon={h}, output_steps={k}: "
                        f"at least {L + h + k - 1} rows are needed (more for a validation split). Use a shorter "
                        "sequence_length or more data.")
    n_val = max(int(round(n * validation_split)), 1) if validation_split > 0 else 0
    n_train = n - n_val - (k - 1 if n_val else 0)
    if n_train < 1:
        raise DataError(f"validation_split={validation_split} leaves no training window ({n} labeled windows); "
                        "lower validation_split or pass more rows.")
    return n, n_train, n_val


def window_to_choose(config, info, settings):
    """A fitted model's config (a dict) for its next fit: sequence_length None again where an earlier fit chose it
    (info['sequence_length_chosen']) and neither fit's settings nor an edit of the config set it since."""
    chosen = info.get("sequence_length_chosen")
    if "sequence_length" in settings or chosen is None or config["sequence_length"] != chosen:
        return config
    return {**config, "sequence_length": None}


def with_window(c, Xa, ya, index, validation_split):
    """(config c with its sequence_length chosen where it is None, how it was chosen or None where it was given).

    The window is ``seasons.window_length`` for the season the model takes (``choose_season``: configured, from the
    index, or inferred) on the rows that the training targets of the window without a season touch. The window
    chosen is as long or longer, which only moves the validation tail later, so those rows are training rows either
    way: no validation row is read. Where the rows cap it below one season, it is raised to one season if that still
    leaves a training window: the smoother models no season longer than the window (48 months forecast 12 ahead:
    12 rows, not 10)."""
    if c["sequence_length"] is not None:
        return c, None
    h, k = c["horizon"], c["output_steps"]
    if not valid_fraction(validation_split):
        validation_split = 0.0                        # not a fraction: the caller's fit says so, in its own words
    L0 = window_length(len(Xa), h, k, 1)[0]            # the window without a season: the season is found on its
    try:                                              # training rows, which any longer window also trains on
        _, n_train, _ = split(len(Xa), L0, h, k, validation_split)
    except DataError:                                 # too few rows even for it: train_run's error says so
        return validate_config({**c, "sequence_length": L0}), "the default, capped by the rows given"
    rows = n_train + L0 + h + k - 2                     # the rows a training target touches
    m = choose_season(ya[:rows], index, c["season"])[0]
    L, how = window_length(len(Xa), h, k, m)
    if 1 < m <= WINDOW_SEASON_MAX and L < m:          # capped below one season, which the smoother would then drop
        try:                                          # (smoothing_filter.season_used): one season, where it trains
            split(len(Xa), m, h, k, validation_split)
            L, how = m, f"{how}, raised to one season ({m} rows) for the smoother"
        except DataError:
            pass
    return validate_config({**c, "sequence_length": L}), how


def keep_network_or_baseline(net, Xv, Yv, c, info, verbose):
    """With the 'ets' baseline the network must earn its place: it is kept only when there are at least 2k
    validation windows and its validation loss is lower than the baseline's alone (the network's residual 0)
    by more than SE_TO_KEEP standard errors of the paired per-window difference (the windows' k-step targets
    overlap, so n / k windows count as independent).
    Otherwise the head is set to zero and the model forecasts the baseline itself: on a short series a
    network fitted to a few residuals mostly adds noise. Xv (n, L, F), Yv (n, k*T): the validation
    windows as the network reads them and their residual targets. The choice is recorded in info."""
    loss_fn, k = training.loss_function(c), c["output_steps"]
    P = net.predict(Xv, Yv.shape[1])
    zero = np.zeros_like(Yv[:1])
    d = np.array([loss_fn(zero, Yv[i:i + 1])[0] - loss_fn(P[i:i + 1], Yv[i:i + 1])[0] for i in range(len(Yv))])
    se = d.std() / np.sqrt(max(len(d) / k, 1.0))
    info["baseline_val_loss"] = float(loss_fn(np.zeros_like(Yv), Yv)[0])
    info["network_val_gain"], info["network_val_se"] = float(d.mean()), float(se)
    info["network_kept"] = bool(len(d) >= 2 * k and d.mean() > SE_TO_KEEP * se)
    if not info["network_kept"]:
        zero_head(net)
        if verbose:
            print(f"the network's validation loss is not clearly below the {info['baseline']} baseline's alone (by "
                  f"{d.mean():.3g} against a standard error of {se:.3g}): the model forecasts the baseline")


def smoother_on_every_row(c, info, Xn):
    """config['refit_baseline']: the network was set aside, so the model forecasts the smoother alone and the
    validation tail no longer judges anything; the smoother's parameters are chosen again on every row given
    (Xn (N, F), normalized), the most recent ones included, as statsforecast fits on all the rows it is given.
    Returns the rebuilt WindowTransform; info['baseline_refit'] records it (an ensemble's intervals need
    the tail held out, so its members keep the first choice)."""
    ets = info["baseline_ets"]
    info["baseline_ets"] = fitted_smoother(c, info["target_history"], Xn, ets["season"], ets["to_raw"],
                                           ets.get("long_season", 1))
    info["baseline_refit"] = True
    return window_transform(c, info)


def zero_head(net):
    """The network's output set to 0 for every window (its head's weights and bias): with a baseline, the model
    then forecasts the baseline itself."""
    for v in net.head.params.values():
        v[...] = 0


def fit_arrays(Xt, y, c):
    """Validate fit's X (read: a Table) and y for config c -> (X (N, F), y (N, T), y_1d, labels): the pandas
    facts to keep. ``c['target_columns']`` (indices or names) must already say which columns of X y is when
    y is None.
    """
    Xa = Xt.values
    tc = target_positions(c["target_columns"], Xt.columns if Xt.is_frame else None, Xa.shape[1])
    if y is None:
        yt = Xt._replace(values=Xa[:, tc], was_1d=len(tc) == 1, is_frame=False,
                         columns=None if Xt.columns is None else [Xt.columns[i] for i in tc])
    else:
        yt = read_table(y, "y")
    ya = yt.values
    if len(Xa) != len(ya):
        raise ShapeError(f"X has {len(Xa)} rows but y has {len(ya)}; they must be aligned row by row.")
    check_same_index(Xt, yt)
    if c["input_size"] is not None and c["input_size"] != Xa.shape[1]:
        raise ShapeError(f"config['input_size'] = {c['input_size']} but X has {Xa.shape[1]} feature column(s); "
                         "fix the config or leave input_size out (it is inferred).")
    if c["output_size"] is not None and c["output_size"] != ya.shape[1]:
        raise ShapeError(f"config['output_size'] = {c['output_size']} but y has {ya.shape[1]} column(s); "
                         "fix the config or leave output_size out (it is inferred).")
    if tc is not None and len(tc) != ya.shape[1]:
        raise ShapeError(f"config['target_columns'] names {len(tc)} column(s) but y has {ya.shape[1]}.")
    if tc is not None and y is not None and not np.allclose(ya, Xa[:, tc], rtol=1e-6, atol=0.0):
        r = int(np.argwhere(~np.isclose(ya, Xa[:, tc], rtol=1e-6, atol=0.0))[0][0])
        raise ConfigError(f"config['target_columns'] = {c['target_columns']} says y is those columns of X, but "
                          f"the y given differs from them (first at row {r}: y = {ya[r].tolist()}, X = "
                          f"{Xa[r, tc].tolist()}). Pass y=None to forecast those columns of X, or leave "
                          "target_columns out to use this y.")
    if c["horizon"] == 0:
        held = [(t, h) for t, h in enumerate(target_history(Xa, ya, tc)) if h is not None]
        if held:
            t, h = held[0]
            raise ConfigError(f"horizon=0 makes window [j, j+L) predict y at its own last row, but column {h} of X "
                              f"holds target {t} there: the model would read the value it predicts. Use horizon=1 "
                              "(the next row, the default), or pass a y already shifted (y[t] the value to predict "
                              "from the window ending at row t) that is not a column of X.")
    index = Xt.index if Xt.index is not None else yt.index
    labels = {"columns": Xt.columns if Xt.is_frame else None, "target_names": yt.columns,
              "time_index": is_datetime_index(index), "freq": freq_string(index)}
    return Xa, ya, yt.was_1d, labels


def validation_windows(validation_data, labels, n_features, n_targets, c, xn, yn):
    """fit's validation_data=(X_val, y_val) -> (windows (n, L, F), targets (n, k*T)), normalized like training."""
    if isinstance(validation_data, (list, tuple)) and len(validation_data) in (1, 2):
        Xv, yv = validation_data[0], validation_data[1] if len(validation_data) == 2 else None
    else:
        raise InputTypeError("validation_data must be a tuple (X_val, y_val) (or (X_val,) with "
                             f"config['target_columns']), got {type(validation_data).__name__}.")
    Xt = align_columns(read_table(Xv, "validation_data's X"), labels["columns"], "validation_data's X")
    Xa = Xt.values
    if Xa.shape[1] != n_features:
        raise ShapeError(f"validation_data's X has {Xa.shape[1]} column(s) but X has {n_features}.")
    tc = target_positions(c["target_columns"], labels["columns"], n_features, "validation_data's X")
    if yv is None:
        if tc is None:
            raise InputTypeError("validation_data = (X_val,) needs config['target_columns']; pass (X_val, y_val).")
        ya = Xa[:, tc]
    else:
        yt = read_table(yv, "validation_data's y")
        check_same_index(Xt, yt)
        ya = yt.values
    if len(ya) != len(Xa) or ya.shape[1] != n_targets:
        raise ShapeError(f"validation_data's y is {ya.shape[0]} x {ya.shape[1]}, but its X has {len(Xa)} rows "
                         f"and y has {n_targets} column(s).")
    L, h, k = c["sequence_length"], c["horizon"], c["output_steps"]
    n = n_labeled(len(Xa), L, h, k)
    if n < 1:
        raise DataError(f"validation_data has {len(Xa)} rows; a validation window needs at least "
                        f"sequence_length + horizon + output_steps - 1 = {L + h + k - 1}.")
    Xn, yn_ = apply_normalizer(xn, network_rows(Xa, ya, labels, c)), apply_normalizer(yn, ya)
    in_dtype_range(Xn, c["dtype"], "validation_data's X")
    in_dtype_range(yn_, c["dtype"], "validation_data's y")
    return sliding_windows(Xn, L)[:n], window_targets(yn_, L, h, k).reshape(n, -1), Xn[:n + L - 1]


def network_rows(Xa, ya, labels, c):
    """The rows the network reads: X's, or with config['future_columns'] each row with its leads
    (``future.with_leads``), after refusing a future column that holds a target's values."""
    cols = future.positions(c, labels["columns"], Xa.shape[1])
    if cols is None:
        return Xa
    history = target_history(Xa, ya, target_positions(c["target_columns"], labels["columns"], Xa.shape[1]))
    future.check_no_target(cols, history, labels["columns"])
    return future.with_leads(Xa, cols, c["horizon"], c["output_steps"])


def train_run(Xa, ya, y_1d, labels, c, validation_split, validation_data, season_hint, verbose, was_fitted):
    """One training run on checked arrays: normalizers, windows (scaled per window with scaling='window'),
    a new network, the baseline, the loop. Returns {net, xn, yn, ar, info, result}; raises when no epoch
    finished (the model is not touched here)."""
    L, h, k = c["sequence_length"], c["horizon"], c["output_steps"]
    n, n_train, n_val = split(len(Xa), L, h, k, validation_split)
    last_train_row = n_train - 1 + L - 1 + h + k - 1  # last row that a training target touches
    Xin = network_rows(Xa, ya, labels, c)             # with known-future columns: each row with its leads
    xn, yn = fitted_normalizers(c, Xin, ya, last_train_row)
    try:
        Xn, yn_ = apply_normalizer(xn, Xin), apply_normalizer(yn, ya)
    except DataError as e:
        raise DataError(f"the normalizer (config['normalize'] = {c['normalize']!r}), fitted on the training rows "
                        f"0..{last_train_row}, cannot transform a validation row: {e} Use a strategy that "
                        "extrapolates (zscore, robust) or validation_split=0.") from None
    in_dtype_range(Xn, c["dtype"], "X")
    in_dtype_range(yn_, c["dtype"], "y")
    Xw = sliding_windows(Xn, L)[:n]                                           # the labeled windows
    Y = window_targets(yn_, L, h, k).reshape(n, -1)                            # (n, k*T)
    tr, va = np.arange(n_train), np.arange(n - n_val, n)
    if validation_data is not None:                   # Keras' validation_data: windows of other rows
        Xwv, Yv, rows_v = validation_windows(validation_data, labels, Xa.shape[1], ya.shape[1], c, xn, yn)
        Xw, Y = np.concatenate([Xw, Xwv]), np.concatenate([Y, Yv])
        va = np.arange(n, n + len(Xwv))
        n_val = len(va)
    net = build_network(c, Xa.shape[1], ya.shape[1])
    ar = LinearAR().fit(Xw[tr], Y[tr])                                         # baseline, same windows and units
    info = {"n_rows": len(Xa), "n_train_windows": int(n_train), "n_val_windows": int(n_val),
            "mase_scale": naive_scale(ya[:last_train_row + 1]).tolist(), "y_1d": bool(y_1d),
            **season_info(ya[:last_train_row + 1], season_hint, c["season"]),
            "y_mean": training_mean(ya[:last_train_row + 1]), **labels}
    wt = window_transform(c, info, Xa, ya, Xn[:last_train_row + 1], labels,               # (forecast.scaling)
                          train_windows=(Xw[tr], Y[tr].reshape(len(tr), k, -1)), x_normalizer=xn, index=season_hint)
    if wt is not None:                                # each window on its own level and scale, a baseline
        parts = [(Xw[:n], Y[:n], Xn[:n + L - 1])] + ([(Xw[n:], Y[n:], rows_v)] if len(Xw) > n else [])
        Xw, Y = [], []
        for Xp, Yp, rows in parts:                    # validation_data's windows: from their own rows
            Xs, context = wt.inputs(Xp, rows)
            Xw.append(Xs)
            Y.append(wt.targets(Xs, Yp.reshape(len(Yp), k, -1), context).reshape(len(Yp), -1))
        Xw, Y = np.concatenate(Xw), np.concatenate(Y)
    result = training.train(net, Xw, Y, tr, va, c, verbose)
    if result.best_epoch == 0:                        # nothing usable: the model stays as it was
        if result.interrupted:
            raise KeyboardInterrupt
        raise TrainingDivergedError(result.diverged + " No epoch had finished, so nothing changed: " +
                                    ("the model is the one fitted before." if was_fitted else
                                     "the model is not fitted."))
    info["best_epoch"] = result.best_epoch
    # the network must earn its place over the smoother; a quantile model's spread is the network's (zeroing
    # it would collapse every level onto the smoother)
    if info.get("baseline") == "ets" and len(va) and c["loss"] != "quantile":
        keep_network_or_baseline(net, Xw[va], Y[va], c, info, verbose)
        if not info["network_kept"] and validation_data is None and c["refit_baseline"]:
            wt = smoother_on_every_row(c, info, Xn)
    if c["loss"] == "quantile" and c["quantile_calibration"] == "conformal" and len(va):
        Q = len(c["quantiles"])                                   # the intervals calibrated on held-out windows
        P = sort_levels(net.predict(Xw[va], Y.shape[1] * Q).reshape(len(va), Y.shape[1], Q))
        info["quantile_widening"] = conformal_widening(P, Y[va], c["quantiles"])
    return {"net": net, "xn": xn, "yn": yn, "ar": ar, "info": info, "result": result, "transform": wt}


def refit(state, Xa, ya, y_1d, labels, c, season_hint, verbose):
    """refit_full: train again on every row (the validation tail too) for the epochs validation chose.

    The refit's info says no window was held out (n_val_windows 0; validated_windows: the first run's tail),
    so nothing downstream (an ensemble's conformal intervals) takes trained-on rows for held-out ones. A
    refit that fails keeps the validated first run, with a note in info."""
    result = state["result"]
    again = dict(c, epochs=result.best_epoch, patience=None, restore_best=False)
    if verbose:
        print(f"refit on every row for the {result.best_epoch} epoch(s) validation chose")
    try:
        refit = train_run(Xa, ya, y_1d, labels, again, 0.0, None, season_hint, verbose, was_fitted=False)
    except TrainingDivergedError as e:
        state["info"]["refit_failed"] = str(e)
        return state
    if refit["result"].diverged:
        state["info"]["refit_failed"] = refit["result"].diverged
        return state
    refit["info"].update(best_epoch=result.best_epoch, refit_epochs=refit["result"].best_epoch, n_val_windows=0,
                         validated_windows=state["info"]["n_val_windows"])
    for key in ("baseline_val_loss", "network_val_gain", "network_val_se", "network_kept", "baseline_refit"):
        if key in state["info"]:
            refit["info"][key] = state["info"][key]
    if state["info"].get("network_kept") is False:
        zero_head(refit["net"])
    refit["result"] = result                       # the history and epoch that validation saw
    return refit
