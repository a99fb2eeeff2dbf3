"""Quantile forecasts (config['loss'] = 'quantile'): the pieces around the pinball loss.

A model trained with ``loss='quantile'`` and ``quantiles=[q_1, ..., q_Q]`` (increasing levels in (0, 1))
has a head with Q outputs per target and step, the level fastest (``training.loss_function``).
Everything here works on host arrays whose last axis holds the Q levels:

- ``median_index``: which level stands for the point forecast (``predict(X)`` without ``quantiles=True``);
- ``sort_levels``: the quantiles of one prediction put in increasing order, so they never cross;
- ``quantile_metrics``: the pinball loss and the coverage of each interval, for ``evaluate``;
- ``conformal_widening`` and ``widen``: each central interval calibrated on the validation windows
  (``config['quantile_calibration'] = 'conformal'``, the default), conformalized quantile regression
  (Romano, Patterson and Candes, 2019)::

      E_w   = max(lo_w - y_w, y_w - hi_w)          how far outside [lo, hi] held-out target w fell (< 0: inside)
      c     = the ceil((n + 1) a) / n empirical quantile of E_1..E_n, a the interval's nominal coverage
      [lo - c, hi + c]                             the interval served (wider where the network was overconfident)

  one c per interval, output step and target. If the windows ahead are exchangeable with the validation
  windows, a new target falls inside with probability >= a; the pinball loss alone fits each level on the
  rows it trained on, where its errors are smallest, and its intervals covered 74% instead of 80% on
  Victoria's test year (``benchmarks/bench_quantiles.py``).
"""
import numpy as np

from ..functional import pinball_loss


def median_index(levels):
    """The position in ``levels`` (increasing) of the point forecast: the level 0.5 when it is listed, else the
    middle one (position (Q - 1) // 2: the lower of the two middle levels when Q is even)."""
    levels = [float(v) for v in levels]
    return levels.index(0.5) if 0.5 in levels else (len(levels) - 1) // 2


def sort_levels(P):
    """P (..., Q) -> a copy sorted along the last axis. Each level is fitted by its own output, so two outputs
    can cross (the 0.9 quantile below the 0.1 quantile); sorting each prediction's Q values keeps the set of
    values and gives them to the levels in order (the rearrangement of Chernozhukov et al., 2010), which never
    raises the pinball loss."""
    return np.sort(np.asarray(P), axis=-1)


def interval_pairs(levels):
    """levels (increasing) -> [(lower position, upper position, nominal coverage)], from the outside in:
    (q_1, q_Q), (q_2, q_{Q-1}), ...; nominal coverage q_upper - q_lower (central when the pair is symmetric,
    as 0.1 and 0.9 -> 0.8). A lone middle level forms no interval."""
    Q = len(levels)
    return [(i, Q - 1 - i, round(float(levels[Q - 1 - i]) - float(levels[i]), 10)) for i in range(Q // 2)]


def conformal_widening(P, Y, levels):
    """P (n, m, Q) sorted predictions and Y (n, m) targets of held-out windows (the network's units) ->
    {nominal: [c_1 .. c_m]}: each interval pair's widening per output (see the module)."""
    P, Y = np.asarray(P, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    n = len(Y)
    out = {}
    for lo, hi, nominal in interval_pairs(levels):
        E = np.maximum(P[..., lo] - Y, Y - P[..., hi])                   # (n, m)
        rank = min(max(int(np.ceil((n + 1) * nominal)), 1), n)          # the finite-sample conformal rank
        out[str(nominal)] = np.sort(E, axis=0)[rank - 1].tolist()
    return out


def widen(P, widening, levels):
    """P (n, m, Q) sorted -> a copy with each interval pair's bounds moved out by its widening (``conformal_
    widening``'s dict, keys str(nominal)), sorted again (a negative widening narrows an interval)."""
    if not widening:
        return P
    P = np.array(P, dtype=np.float64)
    for lo, hi, nominal in interval_pairs(levels):
        c = np.asarray(widening[str(nominal)])                          # (m,)
        P[..., lo] -= c
        P[..., hi] += c
    return sort_levels(P)


def quantile_metrics(truth, qpred, levels):
    """Score quantile forecasts.

    truth (n, k, T) and qpred (n, k, T, Q) in y's units (qpred sorted along its last axis), levels (Q,).
    Returns a dict:

    - quantiles: the levels; pinball: the pinball loss averaged over every target and level;
    - pinball_by_quantile: {level: pinball loss of that level alone};
    - intervals: {nominal coverage (e.g. 0.8): {'lower': q_lo, 'upper': q_hi, 'coverage': fraction of the
      targets with qpred[..., lo] <= truth <= qpred[..., hi], 'mean_width': mean of qpred[..., hi] -
      qpred[..., lo], 'n': targets counted}} for every pair of ``interval_pairs`` (the same keys as
      ``LSTMEnsemble.evaluate``'s conformal intervals);
    - notes: one line per interval for the report's table.
    """
    truth = np.asarray(truth, dtype=np.float64)
    qpred = np.asarray(qpred, dtype=np.float64)
    levels = [float(v) for v in levels]
    out = {"quantiles": levels, "pinball": pinball_loss(qpred, truth, levels)[0],
           "pinball_by_quantile": {q: pinball_loss(qpred[..., [j]], truth, [q])[0] for j, q in enumerate(levels)},
           "intervals": {}, "notes": []}
    for lo, hi, nominal in interval_pairs(levels):
        inside = (truth >= qpred[..., lo]) & (truth <= qpred[..., hi])
        width = float((qpred[..., hi] - qpred[..., lo]).mean())
        out["intervals"][nominal] = {"lower": levels[lo], "upper": levels[hi], "coverage": float(inside.mean()),
                                     "mean_width": width, "n": int(inside.size)}
        out["notes"].append(f"{nominal:.0%} quantile interval ({levels[lo]:g}-{levels[hi]:g}): {inside.mean():.1%} "
                            f"of {inside.size} targets inside (mean width {width:.4g})")
    out["notes"].append(f"pinball loss {out['pinball']:.4g} over the levels {levels}; the point metrics score the "
                        f"median level {levels[median_index(levels)]:g}")
    return out


def shape_quantiles(P, steps, y_1d):
    """P (n, steps, T, Q) -> predict's usual shape with a last axis of Q levels: steps == 1: (n, T, Q), or (n, Q)
    when y was 1-D; steps > 1: (n, steps, T, Q), or (n, steps, Q) when y was 1-D."""
    if steps == 1:
        P = P[:, 0]
        return P[:, 0] if y_1d else P
    return P[:, :, 0] if y_1d else P


def labelled_quantiles(out, index, first_position, levels, freq=None):
    """(n, Q) quantile predictions -> a DataFrame indexed by each row's target time, one column per level
    (named 'quantile'); other shapes are returned as they are (NumPy)."""
    if out.ndim != 2:
        return out
    import pandas as pd

    from .inputs import target_times
    times = target_times(index, first_position + np.arange(len(out)), freq)
    return pd.DataFrame(out, index=times, columns=pd.Index(list(levels), name="quantile"))


# ---- a fitted quantile LSTMModel's predictions (LSTMModel.predict / forecast / evaluate call these) ------------

def model_windows(model, Xw, rows=None, smoothed=None):
    """A quantile model's windows (n, L, F), normalized -> (n, k*T, Q) in normalized units, each prediction's
    Q levels sorted (the network's outputs are laid out level fastest) and its intervals widened as calibrated
    on the validation windows (info['quantile_widening'], in the network's units; absent: as trained)."""
    levels, k, T = model.config["quantiles"], model.config["output_steps"], model.n_targets
    Q, wt = len(levels), model._transform()
    Xs, context = (Xw, None) if wt is None else wt.inputs(Xw, rows, smoothed)
    P = sort_levels(model._net.predict(Xs, k * T * Q).reshape(len(Xw), k * T, Q))
    P = widen(P, model.info.get("quantile_widening"), levels)
    if wt is None:
        return P
    P = P.reshape(len(Xw), k, T, Q)
    P = np.stack([wt.outputs(Xs, P[..., i], context) for i in range(Q)], axis=-1)
    return sort_levels(P.reshape(len(Xw), k * T, Q))


def model_rows(model, Xa, steps, origins=None):
    """``LSTMModel._predict_rows`` with every level: rows (N, F) -> (n, steps, T, Q) in y's units, sorted along
    Q. Direct forecasts only (steps <= output_steps): feeding one level back would not give the others."""
    from ..errors import ConfigError
    k, T = model.config["output_steps"], model.n_targets
    if model.config["loss"] != "quantile":
        raise ConfigError("quantiles=True needs a model trained with config['loss'] = 'quantile' and "
                          "config['quantiles'], e.g. [0.1, 0.5, 0.9]; this one was trained with "
                          f"loss={model.config['loss']!r} and gives one value per step.")
    if steps > k:
        raise ConfigError(f"quantile forecasts are direct: steps={steps} exceeds the output_steps={k} the model "
                          f"was trained for. Retrain with output_steps={steps}, or use steps <= {k}.")
    P = model_windows(model, *model._windows_at(Xa, origins))
    P = np.moveaxis(P.reshape(len(P), k, T, -1)[:, :steps], -1, 2)            # (n, steps, Q, T) for _inv_y
    return sort_levels(np.moveaxis(model._inv_y(P), 2, -1))


def model_pandas(model, out, Xt, first_position):
    """(n, Q) quantile predictions -> a DataFrame (one column per level) when fitted and called with a
    DatetimeIndex, as point forecasts are labelled; other shapes stay NumPy."""
    from .inputs import is_datetime_index
    if not (model.info.get("time_index") and is_datetime_index(Xt.index)):
        return out
    return labelled_quantiles(out, Xt.index, first_position, model.config["quantiles"], model.info.get("freq"))


def model_predict(model, Xt, steps, origins=None):
    """predict/forecast(..., quantiles=True): every level, shaped and labelled."""
    L, h = model.config["sequence_length"], model.config["horizon"]
    P = model_rows(model, Xt.values, steps, origins)
    if origins is None:
        return model_pandas(model, shape_quantiles(P, steps, model._y_1d), Xt, L - 1 + h)
    out = P[-1] if steps > 1 else P[-1:, 0]                                    # (steps, T, Q) or (1, T, Q)
    out = out[:, 0] if model._y_1d else out
    return model_pandas(model, out, Xt, int(origins[-1]) - 1 + h)          # the origin: after the history


def model_report(model, Xa, truth, n, notes):
    """evaluate's keys for a quantile model (``quantile_metrics``): quantiles, pinball, pinball_by_quantile,
    intervals {nominal: {lower, upper, coverage, mean_width, n}}, notes extended."""
    from .future import extra_rows
    k = model.config["output_steps"]
    rows = n + model.config["sequence_length"] - 1 + extra_rows(model.config)          # (+ the leads' rows)
    qpred = model_rows(model, Xa[:rows], k)                                             # (n, k, T, Q)
    out = quantile_metrics(truth, qpred, model.config["quantiles"])
    out["notes"] = list(notes) + out["notes"]
    return out
