"""What a model file must hold, checked field by field before anything it declares is built: the metadata
(config, sizes, normalizer states, history, info) against itself and against the arrays (``check_metadata``),
then the weights against the network the config builds (``check_weights``). ``io`` reads the file first.
"""
import math

import numpy as np

from ..backend import loaded_device, resolve_device, resolve_kernels
from ..errors import ConfigError, MiniLSTMError, ModelFileError
from .future import n_leads
from .io import _path
from .seasons import MAX_LONG_SEASON
from .smoothing import FIRST_WINDOW, FITTED
from .smoothing_residuals import MAX_AR_ORDER, MAX_AR_WEIGHT


def _bad(path, msg):
    return ModelFileError(f"{path!r}: {msg}; the file is truncated, edited or foreign (re-save the model).")


def _finite(x, lo=-math.inf, hi=math.inf):
    """Whether x is a finite real number (not a bool) in [lo, hi]; an int too large for a float is not."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(x) and lo <= x <= hi
    except OverflowError:                              # 10 ** 400 in a hostile file
        return False


def _int_field(d, key, path, lo, hi, where="metadata", required=True):
    v = d.get(key)
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(path, f"{where} field {key!r} must be an integer in [{lo}, {hi}], got {str(v)[:60]!r}")
    return v


def _numbers(v, n, path, what, lo=-math.inf):
    ok = isinstance(v, list) and len(v) == n and all(
        _finite(x, lo) for x in v)
    if not ok:
        raise _bad(path, f"{what} must be a list of {n} finite numbers" + (f" >= {lo}" if lo > -math.inf else "") +
                   f", got {str(v)[:60]!r}")
    return v


def _labels(v, n, path, what):
    if v is None:
        return None
    def scalar(x):
        return isinstance(x, (str, int, float)) and not isinstance(x, bool)

    ok = isinstance(v, list) and len(v) == n and len(set(map(repr, v))) == n and all(
        scalar(x) or (isinstance(x, list) and all(map(scalar, x))) for x in v)    # a list: a MultiIndex label
    if not ok:
        raise _bad(path, f"info field {what!r} must be None or a list of {n} distinct names, got {str(v)[:60]!r}")
    return v


def _check_info(info, path, cfg, n_features, n_targets):
    if not isinstance(info, dict):
        raise _bad(path, f"'info' must be a dict, got {type(info).__name__}")
    L, h, k = cfg["sequence_length"], cfg["horizon"], cfg["output_steps"]
    n_rows = _int_field(info, "n_rows", path, L + h + k - 1, 10 ** 12, "info", required=False)
    _numbers(info.get("mase_scale"), n_targets, path, "info field 'mase_scale'", lo=0.0)
    for key in ("n_train_windows", "n_val_windows", "best_epoch"):
        _int_field(info, key, path, 0, 10 ** 12, "info", required=False)
    if n_rows is not None and info.get("n_train_windows") is not None and info["n_train_windows"] > n_rows:
        raise _bad(path, f"info claims {info['n_train_windows']} training windows from {n_rows} rows")
    if info.get("season") is not None:
        _int_field(info, "season", path, 1, max(n_rows or 0, 10 ** 6), "info")
    for key in ("y_1d", "time_index", "targets_from_fit", "baseline_refit"):
        if key in info and not isinstance(info[key], bool):
            raise _bad(path, f"info field {key!r} must be true or false, got {info[key]!r}")
    if info.get("y_1d") and n_targets != 1:
        raise _bad(path, f"info says y was 1-D but the model has {n_targets} targets")
    if info.get("sequence_length_chosen") is not None and info["sequence_length_chosen"] != cfg["sequence_length"]:
        raise _bad(path, f"info says fit chose sequence_length {info['sequence_length_chosen']!r}, but the config "
                         f"holds {cfg['sequence_length']!r}")
    for key in ("freq", "season_how", "sequence_length_how"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise _bad(path, f"info field {key!r} must be a string or null, got {info[key]!r}")
    if info.get("y_mean") is not None:
        _numbers(info["y_mean"], n_targets, path, "info field 'y_mean'")
    _labels(info.get("columns"), n_features, path, "columns")
    _labels(info.get("target_names"), n_targets, path, "target_names")
    history, floors = info.get("target_history"), info.get("window_floors")
    baseline = info["baseline"] if "baseline" in info else cfg["baseline"]
    if "baseline" in info and baseline not in ("naive", "seasonal_naive", "auto", "ets", None):
        raise _bad(path, f"info's baseline must be null, 'naive', 'seasonal_naive', 'auto' or 'ets', got {baseline!r}")
    if baseline == "ets_univariate":
        raise _bad(path, "config baseline 'ets_univariate' needs info's baseline (what fit resolved it to)")
    if cfg["scaling"] == "window" or baseline is not None or history is not None or floors is not None:
        if not isinstance(history, list) or len(history) != n_targets or not isinstance(floors, list) or \
                len(floors) != n_targets:
            raise _bad(path, f"info's target_history and window_floors must be lists of {n_targets} entries for "
                             "scaling='window'")
        for c, f in zip(history, floors):
            ok = (c is None and f is None) or (isinstance(c, int) and not isinstance(c, bool) and 0 <= c < n_features
                                               and (f is None or _finite(f) and f > 0))
            if not ok:
                raise _bad(path, f"info's target_history {history} / window_floors {floors} are not column "
                                 "indices with positive floors")
    _check_widening(info.get("quantile_widening"), cfg, n_targets, path)
    if baseline == "ets":
        _check_ets(info.get("baseline_ets"), sum(c is not None for c in history), path, k)
    elif baseline is not None:
        pos, L = info.get("baseline_positions"), cfg["sequence_length"]
        if not isinstance(pos, list) or len(pos) != cfg["output_steps"] or not all(
                isinstance(p, int) and not isinstance(p, bool) and 0 <= p < L for p in pos):
            raise _bad(path, f"info's baseline_positions must be {cfg['output_steps']} window rows in [0, {L}), "
                             f"got {pos!r}")
    for key in ("target_columns", "future_columns"):
        tc = cfg[key]
        if tc is not None and isinstance(tc[0], str) and not set(tc) <= set(info.get("columns") or []):
            raise _bad(path, f"config {key} {tc} name columns that info's columns {info.get('columns')} lack")
    return dict(info)


def _check_widening(w, cfg, n_targets, path):
    """info's quantile_widening (``quantiles.conformal_widening``): absent, or for a quantile model one list of
    output_steps * n_targets finite numbers per interval of its levels, keyed by the nominal coverage."""
    if w is None:
        return
    from .quantiles import interval_pairs
    keys = {str(nominal) for _, _, nominal in interval_pairs(cfg["quantiles"] or [])}
    m = cfg["output_steps"] * n_targets
    ok = cfg["loss"] == "quantile" and isinstance(w, dict) and set(w) == keys and all(
        isinstance(v, list) and len(v) == m and all(_finite(x) for x in v) for v in w.values())
    if not ok:
        raise _bad(path, f"info's quantile_widening must map each interval of the quantile levels {sorted(keys)} to "
                         f"{m} finite numbers, got {str(w)[:80]!r}")


def _check_ets(ets, n_columns, path, n_steps):
    """info's baseline_ets: {'season': int >= 1, 'params': per history column a dict of smoothing parameters in
    [0, 1], a log flag, a finite floor >= 0, a long-season flag (absent in files saved before it: none) and its
    gamma_long in [0, 1] (absent in files saved before it: fixed phases, 0), and optionally ar, the error
    correction's W: 1..MAX_AR_ORDER rows of n_steps numbers within MAX_AR_WEIGHT (absent: none; only with the
    least-squares initial states, which the correction's errors were measured with),
    'to_raw': per column [a, c] (finite, a != 0) or null, 'init': how the initial states are found,
    'least_squares' or 'first_window' (absent in files saved before: the latter), and 'long_season': an int in
    1..MAX_LONG_SEASON (absent in files saved before: 1)}."""
    unit = ("alpha", "beta", "phi", "gamma", "trend", "season", "log")
    def count(v, hi):
        return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= hi

    ok = isinstance(ets, dict) and set(ets) - {"init", "long_season"} == {"season", "params", "to_raw"} and \
        ets.get("init", FIRST_WINDOW) in (FIRST_WINDOW, FITTED) and count(ets["season"], 10 ** 6) and \
        count(ets.get("long_season", 1), MAX_LONG_SEASON) and \
        isinstance(ets["params"], list) and len(ets["params"]) == n_columns and \
        isinstance(ets["to_raw"], list) and len(ets["to_raw"]) == n_columns
    def matrix(W):
        return isinstance(W, list) and 1 <= len(W) <= MAX_AR_ORDER and all(
            isinstance(row, list) and len(row) == n_steps and
            all(_finite(v, -MAX_AR_WEIGHT, MAX_AR_WEIGHT) for v in row) for row in W)

    ok = ok and all(isinstance(p, dict) and set(p) - {"long", "gamma_long", "ar"} == set(unit) | {"floor"} and
                    _finite(p["floor"], 0) and all(_finite(p[k], 0, 1) for k in unit + ("long", "gamma_long") if k in p)
                    and p.get("long", 0) in (0, 1) and ("ar" not in p or matrix(p["ar"]) and
                                                        ets.get("init", FIRST_WINDOW) == FITTED) for p in ets["params"])
    ok = ok and all(r is None or isinstance(r, list) and len(r) == 2 and all(_finite(v) for v in r) and r[0] != 0
                    for r in ets["to_raw"])
    ok = ok and all(not p["log"] or r is not None for p, r in zip(ets["params"], ets["to_raw"]))
    if not ok:
        raise _bad(path, "info's baseline_ets must be {'season': an integer >= 1, 'params': one dict per target "
                         "history column of alpha, beta, phi, gamma, trend, season, log in [0, 1], floor >= 0 and "
                         "optionally long (0 or 1), gamma_long in [0, 1] and ar (1.."
                         f"{MAX_AR_ORDER} lists of {n_steps} numbers in [-{MAX_AR_WEIGHT:g}, {MAX_AR_WEIGHT:g}], "
                         "with init 'least_squares'), 'to_raw': one [a, c] or null per "
                         "column (null only without log), "
                         "optionally 'init': 'least_squares' or 'first_window' and 'long_season': an integer in 1.."
                         f"{MAX_LONG_SEASON}}}, got {ets!r}")


def _check_history(h, path):
    if not isinstance(h, list) or len(h) > 10 ** 7:
        raise _bad(path, f"'train_history' must be a list of per-epoch dicts, got {type(h).__name__}")
    for row in h:
        if not isinstance(row, dict) or not all(
                isinstance(v, (int, float, type(None))) for v in row.values()):
            raise _bad(path, f"'train_history' rows must be dicts of numbers, got {str(row)[:60]!r}")
    return [dict(r) for r in h]


def _check_series(d, path, n_columns, n_targets, expected):
    """A model over many series' block (``many.to_meta``): ids (unique strings) and, per series, its normalizers
    (checked as a single model's are), MASE scale (n_targets finite numbers), training mean and season; or None."""
    if d is None:
        return None
    keys = ("ids", "x_normalizers", "y_normalizers", "mase_scale", "y_mean", "season")
    if not isinstance(d, dict) or set(d) != set(keys) or not isinstance(d["ids"], list) or not d["ids"] or \
            len(d["ids"]) > 10 ** 7 or not all(isinstance(i, str) for i in d["ids"]) or \
            len(set(d["ids"])) != len(d["ids"]) or not all(isinstance(d[k], list) and len(d[k]) == len(d["ids"])
                                                         for k in keys):
        raise _bad(path, f"its 'series' must be a dict of {list(keys)}, one entry per series id (unique strings)")
    def numbers(v):
        return isinstance(v, list) and len(v) == n_targets and all(
            _finite(x) for x in v)
    if not all(numbers(v) for v in d["mase_scale"]) or not all(numbers(v) for v in d["y_mean"]) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in d["season"]):
        raise _bad(path, f"its 'series' scales and means must be {n_targets} finite number(s) each, seasons ints >= 1")
    return {"ids": list(d["ids"]), "mase_scale": d["mase_scale"], "y_mean": d["y_mean"], "season": d["season"],
            "x_normalizers": [_check_normalizer(v, path, f"series {i}'s x_normalizer", n_columns, expected)
                              for i, v in zip(d["ids"], d["x_normalizers"])],
            "y_normalizers": [_check_normalizer(v, path, f"series {i}'s y_normalizer", n_targets, expected)
                              for i, v in zip(d["ids"], d["y_normalizers"])]}


def _check_normalizer(d, path, key, n_columns, expected):
    from .normalizer import ROW_WISE, DataNormalizer
    if expected is None:
        if d is not None:
            raise _bad(path, f"the config has no normalization but the file holds a {key}")
        return None
    try:
        n = DataNormalizer.from_dict(d)
    except MiniLSTMError as e:
        raise _bad(path, f"its {key} is invalid ({e})") from None
    if n.state is None or n.state["n_columns"] != n_columns:
        raise _bad(path, f"its {key} is " + ("not fitted" if n.state is None else
                                              f"fitted on {n.state['n_columns']} column(s), not {n_columns}"))
    if n.strategy not in ROW_WISE or n.spec != expected:
        raise _bad(path, f"its {key} ({n.spec}) does not match the config's normalize setting ({expected})")
    return n


def check_metadata(path, meta, arrays, device=None):
    """Check every metadata field against the others and against the arrays' sizes, before anything is built.

    Returns a dict: config (validated), n_features, n_targets, x_normalizer, y_normalizer, train_history,
    info, univariate. ``device`` overrides the saved device; a CUDA model loads on the CPU when CuPy is absent.
    """
    from .config import validate_config
    from .normalizer import parse_spec
    p = _path(path, "load")
    cfg = meta.get("config")
    if not isinstance(cfg, dict):
        raise _bad(p, f"'config' must be a dict, got {type(cfg).__name__}")
    cfg = dict(cfg)
    cfg.setdefault("weight_average", None)         # files from before the option trained without it
    cfg.setdefault("scaling", None)                # ... and these two
    cfg.setdefault("refit_full", False)
    cfg.setdefault("refit_baseline", False)        # files from before it kept the smoother of the training rows
    cfg.setdefault("error_correction", False)      # files from before it never corrected the smoother
    cfg.setdefault("baseline_criterion", "mae")    # ... and chose it by the forecasts' mean absolute error
    cfg.setdefault("baseline", None)
    cfg.setdefault("sequence_length", 20)          # the fixed default before fit chose it
    if device is not None and device not in ("cpu", "cuda", "auto"):
        raise ConfigError(f"load(path, device=...) takes 'cpu', 'cuda' or 'auto', got {device!r}.")
    for key, value in zip(("device", "kernels"), loaded_device(cfg.get("device"), cfg.get("kernels"), device)):
        if value != cfg.get(key):
            cfg[key] = value
    try:
        cfg = validate_config(cfg)
    except MiniLSTMError as e:
        raise _bad(p, f"its config is invalid ({e})") from None
    except Exception as e:
        raise _bad(p, f"its config is invalid ({type(e).__name__}: {e})") from None
    try:
        resolve_kernels(cfg["kernels"], resolve_device(cfg["device"]))
    except ConfigError as e:
        raise _bad(p, f"its config cannot run ({e})") from None
    if cfg["sequence_length"] is None:
        raise _bad(p, "its config has no sequence_length (a fitted model's holds the window it was trained on)")
    n_features = _int_field(meta, "n_features", p, 1, 10 ** 7)
    n_targets = _int_field(meta, "n_targets", p, 1, 10 ** 7)
    H, layers, k, L = cfg["hidden_size"], cfg["num_layers"], cfg["output_steps"], cfg["sequence_length"]
    if cfg["input_size"] is not None and cfg["input_size"] != n_features:
        raise _bad(p, f"config input_size {cfg['input_size']} differs from n_features {n_features}")
    if cfg["output_size"] is not None and cfg["output_size"] != n_targets:
        raise _bad(p, f"config output_size {cfg['output_size']} differs from n_targets {n_targets}")
    tc = cfg["target_columns"]
    named = tc is not None and isinstance(tc[0], str)
    if tc is not None and (len(tc) != n_targets or (not named and max(tc) >= n_features)):
        raise _bad(p, f"config target_columns {tc} do not fit {n_features} feature(s) and {n_targets} target(s)")
    fc = cfg["future_columns"]
    if fc is not None and not isinstance(fc[0], str) and max(fc) >= n_features:
        raise _bad(p, f"config future_columns {fc} do not fit {n_features} feature(s)")
    held = sum(a.size for a in arrays.values())              # nothing is allocated beyond what the file holds
    for what, need in (("hidden_size**2 * num_layers", H * H * layers), ("n_features * hidden_size", n_features * H),
                       ("hidden_size * n_targets * output_steps", H * n_targets * k),
                       ("sequence_length * n_features", L * n_features)):
        if need > held:
            raise _bad(p, f"the metadata implies {what} = {need} weights but the file holds {held} numbers")
    univariate = meta.get("univariate", False)
    if not isinstance(univariate, bool) or (univariate and not n_features == n_targets == 1):
        raise _bad(p, f"'univariate' must be true only for one feature and one target, got {univariate!r}")
    if meta.get("library_version") is not None and not isinstance(meta["library_version"], str):
        raise _bad(p, "'library_version' must be a string")
    norm = cfg["normalize"]
    expected = None if norm is None or norm is False else parse_spec("zscore" if norm is True else norm)
    series = _check_series(meta.get("series"), p, n_features + n_leads(cfg), n_targets, expected)
    n_identity = meta.get("info", {}).get("n_identity", 0) if isinstance(meta.get("info"), dict) else 0
    want = len(series["ids"]) if series and cfg["series_identity"] == "onehot" else 0
    if isinstance(n_identity, bool) or n_identity != want:
        raise _bad(p, f"info's n_identity {n_identity!r} must be {want} (the number of series with "
                      f"series_identity='onehot', else 0; series_identity is {cfg['series_identity']!r})")
    if series is not None and (meta.get("x_normalizer") is not None or meta.get("y_normalizer") is not None):
        raise _bad(p, "a model over many series keeps its normalizers per series, but the file also holds one")
    if series is not None:
        return {"config": cfg, "n_features": n_features, "n_targets": n_targets, "x_normalizer": None,
                "y_normalizer": None, "train_history": _check_history(meta.get("train_history", []), p),
                "info": _check_info(meta.get("info", {}), p, cfg, n_features, n_targets), "univariate": False,
                "series": series, "n_identity": n_identity}
    return {"config": cfg, "n_features": n_features, "n_targets": n_targets, "series": None, "n_identity": 0,
            "x_normalizer": _check_normalizer(meta.get("x_normalizer"), p, "x_normalizer",
                                              n_features + n_leads(cfg), expected),     # + known-future leads
            "y_normalizer": _check_normalizer(meta.get("y_normalizer"), p, "y_normalizer", n_targets, expected),
            "train_history": _check_history(meta.get("train_history", []), p),
            "info": _check_info(meta.get("info", {}), p, cfg, n_features, n_targets),
            "univariate": univariate}


def check_weights(path, shapes, arrays, ar_shapes, dtype=np.float64):
    """The stored arrays must be exactly the model's parameters (``shapes``: name -> shape) and the linear
    autoregression's (``ar_shapes``); parameters representable in ``dtype``; ``ar_sd`` positive.
    Returns (params, ar_arrays)."""
    p = _path(path, "load")
    expected = {**shapes, **ar_shapes}
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise _bad(p, (f"it lacks arrays {missing}" if missing else "") + (" and " if missing and extra else "") +
                   (f"it holds unexpected arrays {extra}" if extra else ""))
    for name, shape in expected.items():
        if arrays[name].shape != tuple(shape):
            raise _bad(p, f"array {name} has shape {arrays[name].shape}, expected {tuple(shape)} from the metadata")
    limit = float(np.finfo(dtype).max)
    for name in shapes:
        if arrays[name].size and float(np.abs(arrays[name]).max()) > limit:
            raise _bad(p, f"array {name} holds values beyond the {np.dtype(dtype).name} range of the model's config "
                       f"(|w| up to {float(np.abs(arrays[name]).max()):.3g})")
    if "ar_sd" in arrays and not (arrays["ar_sd"] > 0).all():
        raise _bad(p, "array ar_sd must be positive")
    return {k: arrays[k] for k in shapes}, {k: arrays[k] for k in ar_shapes}
