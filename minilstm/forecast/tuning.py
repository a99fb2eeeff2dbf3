"""Hyperparameter sweeps: grid or random search over LSTMModel configs, scored in time order, run in parallel.

``sweep(params, X, y, cv=...)`` fits every trial (a config) once per seed and scores it:

- ``cv=0.2`` (a fraction): a holdout. Fit on the rows before the last 20% (with the fit's own
  validation tail for early stopping), score on the last 20% of target rows (``evaluate``).
- ``cv={'start': ..., 'step': ..., ...}``: a rolling-origin backtest with those settings
  (``minilstm.forecast.backtest``, in ``backtesting``); the score is over all its forecasts, the spread over its folds.

params: a dict {key: list of values} (grid search: every combination; with ``n_iter``, random
search: n_iter combinations drawn without repeats), whose values may also be distributions (an
object with ``rvs(random_state=rng)``, e.g. ``scipy.stats.loguniform(1e-4, 1e-2)``, or a function
of a NumPy Generator) for random search; a list of config dicts; or a sampler function
``rng -> config dict`` with ``n_iter``. Each trial is laid over ``config``. A trial that fails
(a fit that diverges, a window longer than the data...) is recorded with its error and the
sweep goes on. The result's ``trials`` table is sorted by score, like scikit-learn's ``cv_results_``.
"""
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..validate import check_seed
from .backtesting import as_arrays, backtest
from .config import DEFAULTS, validate_config
from .fitting import with_window
from .inputs import is_datetime_index
from .parallel import run_parallel, task

SCORES = {"rmse": False, "mae": False, "mse": False, "mape": False, "smape": False, "mase": False, "r2": True}
# name -> greater is better


def _check_value(base, key, value):
    try:
        validate_config({**base, key: value})
    except ConfigError as e:
        raise ConfigError(f"params[{key!r}] holds an invalid value {value!r}: {e}") from None


def _draw(spec, rng):
    """One value from a list (uniform choice), a distribution (``rvs``) or a function of rng."""
    if isinstance(spec, (list, tuple)):
        return spec[int(rng.integers(len(spec)))]
    if hasattr(spec, "rvs"):
        return spec.rvs(random_state=rng)
    return spec(rng)


MAX_FITS = 10_000      # trials x seeds: more is a typo or a job for a cluster scheduler, not one call


def _random_state(random_state):
    """An integer seed >= 0 or a NumPy Generator, else ConfigError."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_seed(random_state, "random_state")


def _grid_item(params, keys, i):
    """The i-th combination of itertools.product over params[k] for k in keys (the last key varies fastest)."""
    out = {}
    for k in reversed(keys):
        i, r = divmod(i, len(params[k]))
        out[k] = params[k][r]
    return {k: out[k] for k in keys}


def trial_configs(params, config=None, n_iter=None, random_state=0):
    """params (see the module docstring) -> (list of the trials' parameter dicts, base config), all checked."""
    base = validate_config(config)
    rng = np.random.default_rng(_random_state(random_state))
    if n_iter is not None and (isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or
                               not 1 <= n_iter <= MAX_FITS):
        raise ConfigError(f"n_iter must be an integer in [1, {MAX_FITS:,}] (random search) or None (the whole grid), "
                          f"got {n_iter!r}.")
    if callable(params) and not isinstance(params, dict):
        if n_iter is None:
            raise ConfigError("a sampler function needs n_iter: how many configs to draw.")
        trials = [dict(params(rng)) for _ in range(n_iter)]
    elif isinstance(params, (list, tuple)):
        if not params or not all(isinstance(p, dict) for p in params):
            raise ConfigError("a list of configs must be a non-empty list of dicts.")
        trials = [dict(p) for p in params]
    elif isinstance(params, dict):
        unknown = [k for k in params if k not in DEFAULTS]
        if unknown:
            raise ConfigError(f"params has unknown key(s) {unknown}; valid keys: {', '.join(DEFAULTS)}.")
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                if not v:
                    raise ConfigError(f"params[{k!r}] is empty; give at least one value.")
                for value in v:
                    _check_value(base, k, value)
            elif not (hasattr(v, "rvs") or callable(v)):
                raise ConfigError(f"params[{k!r}] must be a list of values (or, for random search, a distribution "
                                  f"with .rvs or a function of a NumPy Generator), got {v!r}; write [{v!r}].")
            elif n_iter is None:
                raise ConfigError(f"params[{k!r}] is a distribution: random search needs n_iter.")
        keys = list(params)
        size = math.prod(len(params[k]) for k in keys) if all(isinstance(params[k], (list, tuple)) for k in keys) \
            else None
        if n_iter is None and size > MAX_FITS:
            raise ConfigError(f"the grid has {size:,} combinations, more than {MAX_FITS:,} fits; search a part of it "
                              f"at random with n_iter (e.g. n_iter=50) or give fewer values.")
        if n_iter is None:
            trials = [dict(zip(keys, combo)) for combo in itertools.product(*(params[k] for k in keys))]
        elif size is not None and n_iter <= size:
            trials = [_grid_item(params, keys, int(i)) for i in sorted(rng.choice(size, n_iter, replace=False))]
        else:
            trials = [{k: _draw(params[k], rng) for k in keys} for _ in range(n_iter)]
    else:
        raise ConfigError(f"params must be a dict of lists, a list of configs or a sampler function, got "
                          f"{type(params).__name__}.")
    for i, t in enumerate(trials):
        try:
            validate_config({**base, **t})
        except ConfigError as e:
            raise ConfigError(f"trial {i} {t}: {e}") from None
    return trials, base


def _seeds(seeds, random_state, n_trials):
    """seeds: None -> [None]; n >= 1 -> n seeds from SeedSequence(random_state); a non-empty list of integers >= 0.
    Trials x seeds must stay within MAX_FITS."""
    if seeds is None:
        out = [None]
    elif isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        if not 1 <= seeds <= MAX_FITS:
            raise ConfigError(f"seeds={seeds!r}: an integer seeds is how many seeds per trial, in [1, {MAX_FITS:,}].")
        entropy = random_state if not isinstance(random_state, np.random.Generator) else \
            int(random_state.integers(2 ** 63 - 1))
        out = np.random.SeedSequence(entropy).generate_state(int(seeds)).tolist()
    elif isinstance(seeds, (list, tuple, np.ndarray)) and np.ndim(seeds) == 1 and len(seeds) >= 1:
        out = [check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds)]
    else:
        raise ConfigError(f"seeds must be None (each config's seed), a count n >= 1 or a non-empty list of integer "
                          f"seeds, got {seeds!r}.")
    if n_trials * len(out) > MAX_FITS:
        raise ConfigError(f"{n_trials:,} trials x {len(out):,} seeds = {n_trials * len(out):,} fits, more than "
                          f"{MAX_FITS:,}; use fewer trials (n_iter) or seeds.")
    return out


def run_trial(config, X, y, cv, validation_split, scoring, index=None):
    """One fit and its score (in a worker); any error is returned as the trial's failure, never raised. index: X's
    DatetimeIndex or None (a window left to fit is chosen from the season it implies, as on the user's data)."""
    from .model import LSTMModel
    t0 = time.perf_counter()
    try:
        if isinstance(cv, dict):
            dates = {} if index is None or "index" in cv else {"index": index}
            r = backtest(config, X, y, verbose=False, validation_split=validation_split, **cv, **dates)
            return {"status": "ok", "score": r.metrics[scoring], "fit_seconds": sum(f["fit_seconds"] for f in r.folds),
                    "fold_scores": [f["metrics"]["model"][scoring] for f in r.folds]}
        cut = len(X) - int(round(cv * len(X)))
        c = with_window(validate_config(config), X[:cut], y[:cut], index, validation_split)[0]
        first = cut - c["sequence_length"] - c["horizon"] + 1      # the window whose target is row `cut`
        model = LSTMModel(c).fit(X[:cut], y[:cut], validation_split=validation_split, verbose=False)
        seconds = time.perf_counter() - t0
        ev = model.evaluate(X[max(first, 0):], y[max(first, 0):], verbose=False)
        return {"status": "ok", "score": float(ev[scoring]), "fit_seconds": seconds, "fold_scores": []}
    except Exception as e:          # noqa: BLE001 -- a failed trial is a result, the sweep goes on
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "fit_seconds": time.perf_counter() - t0}


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@dataclass
class SweepResult:
    """``trials``: one dict per trial, best first (rank, trial, params, config, score, spread, fit_seconds,
    status, error); failed trials last. ``best_params``, ``best_config``, ``best_score``, ``best_model``
    (fitted on all the data when ``refit=True``, else None)."""
    trials: list
    scoring: str
    best_params: dict = None
    best_config: dict = None
    best_score: float = float("nan")
    best_model: object = None
    settings: dict = field(default_factory=dict)

    def table(self, top=None):
        """Every trial, best first: rank, score, spread (the standard deviation over seeds or backtest folds;
        '-' where a trial has one score, e.g. one holdout and one seed), fit seconds, then the swept keys."""
        keys = sorted({k for t in self.trials for k in t["params"]})
        head = f"{'rank':>4} {self.scoring:>10} {'spread':>9} {'fit s':>7}  " + "  ".join(keys)
        lines = [head]
        for t in self.trials[:top]:
            vals = "  ".join(f"{_fmt(t['params'].get(k, '')):>{len(k)}}" for k in keys)
            if t["status"] == "ok":
                spread = f"{t['spread']:>9.3g}" if np.isfinite(t["spread"]) else f"{'-':>9}"
                lines.append(f"{t['rank']:>4} {t['score']:>10.4g} {spread} {t['fit_seconds']:>7.1f}  {vals}")
            else:
                lines.append(f"{'-':>4} {'failed':>10} {'':>9} {t['fit_seconds']:>7.1f}  {vals}  ({t['error'][:80]})")
        if any(t["status"] == "ok" and not np.isfinite(t["spread"]) for t in self.trials[:top]):
            lines.append("spread '-': one score per trial (one holdout, one seed); seeds=3 or cv={'start': ...} "
                         "(a backtest) measure how much a score moves")
        return "\n".join(lines)

    @property
    def cv_results_(self):
        """scikit-learn's layout: {'params', 'mean_test_score', 'std_test_score', 'mean_fit_time',
        'rank_test_score', 'status', 'error'}, one entry per trial, in trial order."""
        rows = sorted(self.trials, key=lambda t: t["trial"])
        return {"params": [t["params"] for t in rows],
                "mean_test_score": np.array([t["score"] for t in rows]),
                "std_test_score": np.array([t["spread"] for t in rows]),
                "mean_fit_time": np.array([t["fit_seconds"] for t in rows]),
                "rank_test_score": np.array([t["rank"] or 0 for t in rows]),
                "status": [t["status"] for t in rows], "error": [t["error"] for t in rows]}

    def to_frame(self):
        """The trials as a pandas DataFrame (one column per swept key, then score, spread, fit_seconds...)."""
        import pandas as pd
        rows = [{"rank": t["rank"], **t["params"], "score": t["score"], "spread": t["spread"],
                 "fit_seconds": t["fit_seconds"], "status": t["status"], "error": t["error"]} for t in self.trials]
        return pd.DataFrame(rows)

    __str__ = table

    def __repr__(self):
        return self.table()


def sweep(params, X, y=None, *, config=None, scoring="rmse", cv=0.2, n_iter=None, seeds=None, random_state=0,
          validation_split=0.1, refit=False, n_jobs=1, backend=None, verbose=True):
    """Grid or random search (see the module docstring). Returns a ``SweepResult``.

    scoring: one of rmse, mae, mse, mape, smape, mase (lower is better) or r2 (higher is better).
    seeds: None (each config's own seed), an int n (n seeds per trial), or a list of seeds; the
    score is the mean over seeds (and the spread their standard deviation, or the folds' with a
    single seed). n_jobs, backend: parallel fits (``minilstm.forecast.parallel``); the numbers do
    not depend on them. refit: fit the best config on all of (X, y) as ``best_model``.
    """
    if not isinstance(scoring, str) or scoring not in SCORES:
        raise ConfigError(f"scoring must be one of {list(SCORES)}, got {scoring!r}.")
    if not (isinstance(cv, dict) or (isinstance(cv, float) and 0.0 < cv < 1.0)):
        raise ConfigError(f"cv must be a fraction in (0, 1) (a holdout: the last rows) or a dict of backtest "
                          f"settings such as {{'start': 0.6, 'step': 24}}, got {cv!r}.")
    trials, base = trial_configs(params, config, n_iter, random_state)
    Xa, ya, index, positional = as_arrays(X, y, base)  # trials fit on arrays: target columns by position
    dates = index if is_datetime_index(index) else None
    seeds = _seeds(seeds, random_state, len(trials))
    configs = [{**positional, **t, **({} if s is None else {"seed": int(s)})} for t in trials for s in seeds]
    tasks = [task(run_trial, c, Xa, ya, cv, validation_split, scoring, dates) for c in configs]
    runs = run_parallel(tasks, n_jobs=n_jobs, backend=backend, progress="sweep fits" if verbose else False)
    rows = []
    for i, t in enumerate(trials):
        mine = runs[i * len(seeds):(i + 1) * len(seeds)]
        failed = [r for r in mine if r["status"] != "ok"]
        scores = [r["score"] for r in mine if r["status"] == "ok"]
        spread_of = scores if len(scores) > 1 else (mine[0].get("fold_scores") or []) if not failed else []
        rows.append({"trial": i, "params": t, "config": validate_config({**base, **t}),
                     "score": float(np.mean(scores)) if not failed else float("nan"),
                     "spread": float(np.std(spread_of)) if len(spread_of) > 1 else float("nan"),
                     "fit_seconds": float(np.mean([r["fit_seconds"] for r in mine])),
                     "status": "failed" if failed else "ok", "error": failed[0]["error"] if failed else ""})
    sign = -1.0 if SCORES[scoring] else 1.0
    rows.sort(key=lambda r: (r["status"] != "ok" or not np.isfinite(r["score"]),
                             sign * r["score"] if np.isfinite(r["score"]) else 0.0, r["trial"]))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank if r["status"] == "ok" else None
    result = SweepResult(rows, scoring, settings={"cv": cv, "seeds": seeds, "n_iter": n_iter})
    ok = [r for r in rows if r["status"] == "ok" and np.isfinite(r["score"])]
    if ok:
        result.best_params, result.best_config, result.best_score = ok[0]["params"], ok[0]["config"], ok[0]["score"]
        if refit:
            from .model import LSTMModel
            result.best_model = LSTMModel(result.best_config).fit(X, y, validation_split=validation_split,
                                                                  verbose=False)
    return result
