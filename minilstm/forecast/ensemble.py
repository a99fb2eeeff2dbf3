r"""LSTMEnsemble: several LSTMModels that differ by seed (and optionally config), with conformal intervals.

Every member is fitted on the same rows in time order (no bootstrap: nothing is resampled
into the future); they differ only by their seeds (weights, dropout, shuffling) and, if given,
by their configs. ``predict`` returns the mean (or median) of the members.

Prediction intervals are split-conformal, calibrated on the time-ordered validation tail::

    r_j = |y_j - yhat_j|              absolute residuals of the ensemble on the n tail windows
                                      (per step ahead and per target), the windows after the
                                      training windows that the members never trained on
    q   = r_(ceil((n + 1) * level))   the ceil((n+1) level)-th smallest of them
    interval = [yhat - q, yhat + q]

Assumptions: (1) the residuals of future windows are exchangeable with those of the tail
(the error distribution does not drift; the tail is the most recent data, the closest to the
future); then a future target falls inside with probability >= level, *marginally* (on
average over time, not in every hour or regime). (2) The tail was used by the members for
early stopping only, a mild selection that can make the intervals a little narrow. (3) The
intervals have the same width everywhere (no heteroscedasticity). Check them: ``evaluate``
reports the fraction of test targets inside each interval (its empirical coverage).
"""
import math
import os
import tempfile

import numpy as np

from ..errors import ConfigError, DataError, ModelFileError, NotFittedError
from . import io as model_io
from .backtesting import as_arrays, recursive_ok
from .config import validate_config
from .fitting import window_to_choose, with_window
from .metrics import regression_metrics
from .model import LSTMModel
from .parallel import check_n_jobs, run_parallel, task
from .report import EvaluationReport
from .seasons import datetime_hint
from .windows import n_labeled, window_targets

WINDOWING = ("sequence_length", "horizon", "output_steps", "target_columns")   # members must agree on these
MAX_MEMBERS = 1000


def _member_seeds(seeds, n, base_seed, member_configs):
    """One int seed per member: ``seeds`` (a list of n integers >= 0), else the member configs' own 'seed' where
    given and the rest drawn from ``SeedSequence(base_seed)``; a member config's seed that ``seeds`` contradicts
    is an error, never silently replaced."""
    given = [m.get("seed") if member_configs else None for m in (member_configs or [None] * n)]
    if seeds is None:
        drawn = np.random.SeedSequence(base_seed).generate_state(n).tolist()
        seeds = [g if g is not None else d for g, d in zip(given, drawn)]
    elif not isinstance(seeds, (list, tuple, np.ndarray)) or np.ndim(seeds) != 1:
        raise ConfigError(f"seeds must be a list of {n} integers (one per member) or None, got {seeds!r}.")
    if len(seeds) != n:
        raise ConfigError(f"seeds has {len(seeds)} entries for {n} members; give one seed per member.")
    out = []
    for i, s in enumerate(seeds):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or not 0 <= s <= 2 ** 63 - 1:
            raise ConfigError(f"seeds[{i}] must be an integer in [0, 2**63 - 1], got {s!r}.")
        if given[i] is not None and given[i] != s:
            raise ConfigError(f"member_configs[{i}] sets seed {given[i]!r} but seeds[{i}] is {s!r}; give the seed in "
                              "one place.")
        out.append(int(s))
    return out


def conformal_quantile(abs_residuals, level):
    """abs_residuals (n, S, T) -> q (S, T): the ceil((n+1) level)-th smallest, per step and target."""
    n = len(abs_residuals)
    rank = math.ceil((n + 1) * level - 1e-9)
    if rank > n:
        need = next(m for m in range(1, 10 ** 7) if math.ceil((m + 1) * level - 1e-9) <= m)
        raise DataError(f"a {level:.0%} conformal interval needs at least {need} calibration windows, and the "
                        f"validation tail holds {n}; raise validation_split in fit or pass more rows.")
    return np.sort(abs_residuals, axis=0)[rank - 1]


def _fit_member(config, X, y, validation_split):
    """Fit one member (in a worker) and return its model file as bytes (no pickle crosses processes)."""
    model = LSTMModel(config).fit(X, y, validation_split=validation_split, verbose=False)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "member.minilstm")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def _member_from_bytes(data):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "member.minilstm")
        with open(path, "wb") as f:
            f.write(data)
        return LSTMModel().load(path)


def _levels(levels, name, allow_empty=False):
    """A level (0.8) or a list of levels -> a list of floats in (0, 1); empty only where allowed."""
    if levels is None and allow_empty:
        return []
    try:
        out = np.atleast_1d(np.asarray(levels, dtype=np.float64)).tolist()
    except (TypeError, ValueError):
        out = None
    if out is None or np.ndim(levels) > 1 or (not out and not allow_empty) or \
            any(isinstance(v, bool) or not 0.0 < v < 1.0 for v in out) or isinstance(levels, (bool, str)):
        raise ConfigError(f"{name} must be a level in (0, 1) such as 0.8 or a non-empty list of them such as "
                          f"(0.8, 0.95), got {levels!r}" + (" (None: no intervals)." if allow_empty else "."))
    return out


class EnsembleReport(EvaluationReport):
    """``LSTMEnsemble.evaluate``'s result: an ``EvaluationReport`` whose first row is the ensemble."""

    def rows(self):
        rows = super().rows()
        first, name = next(iter(rows)), f"{self.model} ensemble ({self.get('n_members', '?')})"
        return {name if k == first else k: v for k, v in rows.items()}


class LSTMEnsemble:
    """``LSTMEnsemble(config, n_members=5)``: the same fit / predict / forecast / evaluate / save / load as LSTMModel.

    member_configs: optional list of dicts, one per member, laid over ``config`` (then
    n_members = len(member_configs)); they must agree on sequence_length, horizon,
    output_steps and target_columns. seeds: one per member (default: drawn from
    ``numpy.random.SeedSequence(config['seed'])``). aggregate: 'mean' or 'median'.
    n_jobs, backend: how the members are fitted (``minilstm.forecast.parallel``); the results
    do not depend on them. The members' ``refit_baseline`` is off (their smoother is chosen before the
    validation tail, which calibrates the intervals); a ``member_configs`` entry that turns it on leaves
    the ensemble without intervals.
    """

    def __init__(self, config=None, n_members=5, member_configs=None, seeds=None, aggregate="mean", n_jobs=1,
                 backend=None):
        base = validate_config(config)
        if member_configs is not None:
            if not isinstance(member_configs, (list, tuple)) or not member_configs or \
                    not all(isinstance(m, dict) for m in member_configs):
                raise ConfigError(f"member_configs must be a non-empty list of config dicts, got {member_configs!r}.")
            n_members = len(member_configs)
        if isinstance(n_members, bool) or not isinstance(n_members, (int, np.integer)) or \
                not 1 <= n_members <= MAX_MEMBERS:
            raise ConfigError(f"n_members must be an integer in [1, {MAX_MEMBERS:,}], got {n_members!r} (beyond a few "
                              "dozen members the intervals and the mean no longer change).")
        seeds = _member_seeds(seeds, int(n_members), base["seed"], member_configs)
        if not isinstance(aggregate, str) or aggregate not in ("mean", "median"):
            raise ConfigError(f"aggregate must be 'mean' or 'median', got {aggregate!r}.")
        # the tail calibrates the intervals, so the members keep the smoother chosen before it (refit_baseline
        # off, whatever the base config says; a member_configs entry may still set it, and then has no intervals)
        self.configs = [validate_config({**base, "refit_baseline": False,
                                         **(member_configs[i] if member_configs else {}), "seed": int(s)})
                        for i, s in enumerate(seeds)]
        keys = [repr(sorted(c.items())) for c in self.configs]
        if len(set(keys)) < len(keys):
            i = next(i for i, k in enumerate(keys) if keys.count(k) > 1)
            j = keys.index(keys[i], i + 1)
            raise ConfigError(f"members {i} and {j} have the same config and seed ({self.configs[i]['seed']}), so they "
                              "would be the same model; give every member its own seed.")
        for key in WINDOWING:
            values = [c[key] for c in self.configs]
            if any(v != values[0] for v in values):
                raise ConfigError(f"the members' {key} differ ({values}); members must cut the same windows, so "
                                  f"{', '.join(WINDOWING)} must be equal.")
        self.config, self.aggregate, self.n_jobs, self.backend = self.configs[0], aggregate, n_jobs, backend
        self.members, self.residuals, self.is_fitted = [], None, False

    @property
    def n_members(self):
        """The number of members (one per config and seed)."""
        return len(self.configs)

    # ---- fit ------------------------------------------------------------------------------
    def fit(self, X, y=None, validation_split=0.1, interval_steps=None, verbose=True):
        """Fit every member on (X, y) as ``LSTMModel.fit`` does, then calibrate the intervals on the tail.

        The last ``validation_split`` of the windows (in time order) is the members' validation
        tail and the conformal calibration set. interval_steps: steps ahead to calibrate (default
        output_steps; more needs a model that can forecast recursively). verbose: a progress bar
        over the members. Returns self.
        """
        configs, how = self.configs, None
        Xa, ya, _, _ = as_arrays(X, y, configs[0])
        if configs[0]["sequence_length"] is None:     # chosen once, as a member's fit would: the members cut one window
            chosen, how = with_window(configs[0], Xa, ya, datetime_hint(y, X), validation_split)
            configs = [{**cfg, "sequence_length": chosen["sequence_length"]} for cfg in configs]
        c = configs[0]
        L, h, k = c["sequence_length"], c["horizon"], c["output_steps"]
        S = k if interval_steps is None else interval_steps
        if isinstance(S, bool) or not isinstance(S, (int, np.integer)) or S < 1:
            raise ConfigError(f"interval_steps must be an integer >= 1 or None, got {interval_steps!r}.")
        if S > k and not recursive_ok(Xa, ya, c):
            raise ConfigError(f"interval_steps={S} exceeds output_steps={k} and this model cannot forecast "
                              f"recursively; set config['output_steps']={S}.")
        tasks = [task(_fit_member, cfg, X, y, validation_split) for cfg in configs]
        files = run_parallel(tasks, n_jobs=self.n_jobs, backend=self.backend,
                             progress="ensemble members" if verbose else False)
        members = [_member_from_bytes(b) for b in files]
        if how is not None:                           # saved with the members: a loaded ensemble chooses again too
            for m in members:
                m.info.update(sequence_length_chosen=c["sequence_length"], sequence_length_how=how)
        n = n_labeled(len(Xa), L, h, k)
        n_val = members[0].info.get("n_val_windows", 0)
        residuals = None
        if n_val and not any(m.info.get("baseline_refit") for m in members):
            first = n - n_val                            # the first validation window starts at this row
            count = min(n_val, n_labeled(len(Xa) - first, L, h, S))
            pred = self._aggregate([self._values(m, Xa[first:], S) for m in members])[:count]
            residuals = np.abs(window_targets(ya[first:], L, h, S)[:count] - pred)
        self.members, self.residuals, self.is_fitted, self.config = members, residuals, True, c
        return self

    # ---- predict ------------------------------------------------------------------------------
    @staticmethod
    def _values(model, X, steps):
        """One member's predictions as (n, steps, T) floats."""
        p = np.asarray(model.predict(X, steps=steps), dtype=np.float64)
        return p.reshape(len(p), steps, -1)

    def _aggregate(self, preds):
        stack = np.stack(preds)
        return np.median(stack, axis=0) if self.aggregate == "median" else stack.mean(axis=0)

    def _require_fitted(self, what):
        if not self.is_fitted:
            raise NotFittedError(f"{what} needs a fitted ensemble: call fit(X, y) first, or load a saved one.")

    def quantiles(self, level, steps=1):
        """The conformal half-width q (steps, T) of a ``level`` interval (e.g. 0.8), from the calibration tail."""
        self._require_fitted("intervals")
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
            raise ConfigError(f"an interval level must be a number in (0, 1) such as 0.8 or 0.95, got {level!r}.")
        if self.residuals is None:
            raise NotFittedError("no held-out tail calibrates intervals: the ensemble was fitted with "
                                 "validation_split=0, refit_full=True or refit_baseline=True (its members then "
                                 "train or choose their smoother on the tail); refit with validation_split > 0 (0.1 "
                                 "or more) and refit_full and refit_baseline off.")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {steps!r}.")
        if steps > self.residuals.shape[1]:
            raise ConfigError(f"intervals are calibrated for up to {self.residuals.shape[1]} steps ahead; refit with "
                              f"interval_steps={steps}.")
        return conformal_quantile(self.residuals[:, :steps], level)

    @staticmethod
    def _shape_like(out, values):
        """Aggregated values in the shape (and pandas labels) of a member's output."""
        values = np.asarray(values).reshape(np.shape(out))
        if hasattr(out, "columns"):
            return type(out)(values, index=out.index, columns=out.columns)
        if hasattr(out, "index"):
            return type(out)(values, index=out.index, name=out.name)
        return values

    def _combine(self, outs, steps, intervals):
        """Members' outputs (any LSTMModel shape) -> point, or (point, {level: (lower, upper)})."""
        vals = self._aggregate([np.asarray(o, dtype=np.float64).reshape(-1, steps, self.members[0].n_targets)
                                for o in outs])
        point = self._shape_like(outs[0], vals)
        if intervals is None:
            return point
        bounds = {}
        for level in _levels(intervals, "intervals"):
            q = self.quantiles(level, steps)                                  # (steps, T)
            bounds[level] = (self._shape_like(outs[0], vals - q), self._shape_like(outs[0], vals + q))
        return point, bounds

    def predict(self, X, steps=None, intervals=None):
        """The members' mean (or median), shaped as ``LSTMModel.predict`` (steps=None: output_steps).

        intervals: None, a level (0.8) or levels ((0.8, 0.95)): then returns
        ``(point, {level: (lower, upper)})``, each bound shaped like point (conformal, see the module docstring).
        """
        self._require_fitted("predict")
        steps = self.config["output_steps"] if steps is None else steps
        return self._combine([m.predict(X, steps=steps) for m in self.members], steps, intervals)

    def forecast(self, X_history, steps=None, intervals=None, future=None):
        """The next ``steps`` values after X_history (shaped as ``LSTMModel.forecast``; steps=None: output_steps);
        intervals as in ``predict``; future: the known-future columns' next rows, as in ``LSTMModel.forecast``."""
        self._require_fitted("forecast")
        steps = self.config["output_steps"] if steps is None else steps
        return self._combine([m.forecast(X_history, steps=steps, future=future) for m in self.members], steps,
                             intervals)

    # ---- evaluate ---------------------------------------------------------------------------
    def evaluate(self, X, y=None, season=None, levels=(0.8, 0.95), verbose=True):
        """Score the ensemble like ``LSTMModel.evaluate`` (same baselines, same target rows), plus intervals.

        Adds ``intervals`` {level: {'coverage', 'mean_width', 'n'}}: the fraction of the targets
        inside each conformal interval (nominal: the level), and ``member_rmse`` (each member alone).
        """
        self._require_fitted("evaluate")
        c = self.config
        L, h, k = c["sequence_length"], c["horizon"], c["output_steps"]
        report = EnsembleReport(self.members[0].evaluate(X, y, season=season, verbose=False))
        report.model = self.members[0].config["cell"].upper()
        _, ya, _, _ = as_arrays(X, y, self.members[0].config)      # the target columns the members' fits set
        n = n_labeled(len(ya), L, h, k)
        truth = window_targets(ya, L, h, k)
        preds = [self._values(m, X, k)[:n] for m in self.members]
        point = self._aggregate(preds)
        scale = np.asarray(self.members[0].info.get("mase_scale", np.ones(ya.shape[1])))
        report.update(regression_metrics(truth, point, scale))
        report["n_members"] = self.n_members
        report["member_rmse"] = [regression_metrics(truth, p, scale)["rmse"] for p in preds]
        report["intervals"] = {}
        notes = list(report.get("notes", []))
        levels = _levels(levels, "levels", allow_empty=True)
        for level in (() if self.residuals is None else levels):
            q = self.quantiles(level, k)
            inside = (truth >= point - q) & (truth <= point + q)
            report["intervals"][level] = {"coverage": float(inside.mean()), "mean_width": float(2 * q.mean()),
                                          "n": int(inside.size)}
            notes.append(f"{level:.0%} conformal interval: {inside.mean():.1%} of {inside.size} targets inside "
                         f"(mean width {2 * q.mean():.4g})")
        report["notes"] = notes + [f"members alone: RMSE {min(report['member_rmse']):.4g} to "
                                   f"{max(report['member_rmse']):.4g}"]
        if verbose:
            report.show()
        return report

    # ---- save / load ------------------------------------------------------------------------
    def save(self, path):
        """Write the whole ensemble to one model file (``minilstm.forecast.io``'s zip of JSON + .npy), atomically."""
        self._require_fitted("save")
        metas, arrays = [], {}
        with tempfile.TemporaryDirectory() as d:
            for i, m in enumerate(self.members):
                p = os.path.join(d, f"member{i}.minilstm")
                m.save(p)
                meta, arr = model_io.read_model_file(p)
                metas.append(meta)
                arrays.update({f"member{i}.{name}": a for name, a in arr.items()})
        if self.residuals is not None:
            arrays["ensemble.abs_residuals"] = self.residuals
        meta = {"kind": "ensemble", "ensemble": {"n_members": self.n_members, "aggregate": self.aggregate,
                                                  "configs": self.configs}, "members": metas}
        model_io.write_model_file(path, meta, arrays)
        return path

    @model_io.class_or_instance_method
    def load(self, path, device=None):
        """Load a saved ensemble and return it: ``LSTMEnsemble.load(path)`` or ``LSTMEnsemble().load(path)``."""
        meta, arrays = model_io.read_model_file(path)
        if meta.get("kind") != "ensemble":
            raise ModelFileError(f"{path!r} holds a single model (LSTMModel.save), not an ensemble: load it with "
                                 "LSTMModel.load(path).")
        try:
            info, metas = meta["ensemble"], list(meta["members"])
            n = int(info["n_members"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path!r}: the ensemble's metadata is incomplete ({type(e).__name__}: {e}).") \
                from None
        if len(metas) != n:
            raise ModelFileError(f"{path!r} says {n} members but describes {len(metas)}; the file was edited or "
                                 "truncated. Refit the ensemble and save it again.")
        members = []
        with tempfile.TemporaryDirectory() as d:
            for i, mm in enumerate(metas):
                prefix = f"member{i}."
                arr = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
                if not arr:
                    raise ModelFileError(f"{path!r}: member {i} of {n} has no weights in the file (truncated or "
                                         "edited). Refit the ensemble and save it again.")
                p = os.path.join(d, f"member{i}.minilstm")
                model_io.write_model_file(p, mm, arr)
                try:
                    members.append(LSTMModel().load(p, device=device))
                except ModelFileError as e:
                    raise ModelFileError(f"{path!r}, member {i} of {n}: " + str(e).replace(repr(p), "it")) from None
        new = LSTMEnsemble(None, member_configs=[window_to_choose(m.config, m.info, {}) for m in members],
                           seeds=[m.config["seed"] for m in members], aggregate=info.get("aggregate", "mean"))
        new.members, new.is_fitted, new.n_jobs, new.backend = members, True, self.n_jobs, self.backend
        new.config = {**new.configs[0], "sequence_length": members[0].config["sequence_length"]}
        new.residuals = arrays.get("ensemble.abs_residuals")
        self.__dict__.clear()
        self.__dict__.update(new.__dict__)
        return self

    @classmethod
    def from_file(cls, path, device=None):
        """``LSTMEnsemble.from_file(path)``: the classmethod form of ``load``."""
        return cls().load(path, device=device)

    def __reduce__(self):
        """pickle and ``copy.deepcopy``: a fitted ensemble travels as the bytes of its model file (``save``), an
        unfitted one as its members' configs in JSON; both with n_jobs and backend (when a name). Unpickling
        checks them as ``load`` and the constructor do."""
        run = model_io.config_text({"n_jobs": self.n_jobs,
                                    "backend": self.backend if isinstance(self.backend, str) else None})
        if self.is_fitted:
            return _unpickle, (type(self), model_io.file_bytes(self.save), run)
        return _unpickle, (type(self), model_io.config_text({"configs": self.configs, "aggregate": self.aggregate}),
                           run)

    def __repr__(self):
        c = self.config
        return (f"LSTMEnsemble(n_members={self.n_members}, aggregate={self.aggregate!r}, hidden_size="
                f"{c['hidden_size']}, sequence_length={c['sequence_length']}, fitted={self.is_fitted})")


def _unpickle(cls, payload, run):
    """A pickled LSTMEnsemble: model-file bytes (checked as ``load`` checks a file) or an unfitted one's configs."""
    what = "a pickled LSTMEnsemble"
    if not (isinstance(cls, type) and issubclass(cls, LSTMEnsemble)):
        raise ModelFileError(f"{what} names {cls!r}, not an LSTMEnsemble class; the pickle was not written by "
                             "minilstm.")
    run = model_io.config_from_text(run, what)
    try:
        if isinstance(payload, str):
            settings = model_io.config_from_text(payload, what)
            configs = settings.get("configs")
            seeds = [c.get("seed") for c in configs] if isinstance(configs, list) and \
                all(isinstance(c, dict) for c in configs) else None
            new = cls(None, member_configs=configs, seeds=seeds, aggregate=settings.get("aggregate"))
        else:
            new = model_io.from_file_bytes(cls().load, payload, what)
        check_n_jobs(run.get("n_jobs"))
        if run.get("backend") is not None and not isinstance(run["backend"], str):
            raise ConfigError(f"backend must be a name or None, got {run['backend']!r}.")
        new.n_jobs, new.backend = run.get("n_jobs"), run.get("backend")
    except ConfigError as e:
        raise ModelFileError(f"{what}: its settings are invalid ({e}).") from None
    return new
