"""The evaluation report: the model and every baseline scored on the same targets, shown as a table in a
terminal (``print``, ``repr``) and in a notebook (HTML).
"""
from .baselines import baseline_forecasts, persistence_forecast, seasonal_naive_forecast
from .metrics import looks_like_returns, regression_metrics
from .progress import ipython_shell
from .seasons import seasonal_coverage

_LABELS = {"mean": "mean (training)"}    # table rows are the baselines' dict keys


class EvaluationReport(dict):
    """The result of ``LSTMModel.evaluate``: a dict (``r['rmse']``, ``r['baselines']['persistence']``)
    that displays as the evaluation table (``print(r)``, a Jupyter cell's last line, ``repr``).

    Keys: the model's metrics (mse, rmse, mae, mape, smape, r2, mase, mape_excluded), n_scored,
    ``baselines`` {name: metrics}, season, season_how, units, notes (list of str); for a model of
    output_steps k > 1 these pool all k steps, and ``per_step`` is a list of k dicts (step 1..k), each
    the model's metrics for that step alone with its own ``baselines``.
    """

    model = "LSTM"     # the model's name in the table: its cell ("GRU" for a GRU model)

    def rows(self):
        """{label: metrics} in table order: the model first, then every baseline."""
        out = {f"{self.model} (minilstm)": self}
        for name, m in self.get("baselines", {}).items():
            label = _LABELS.get(name, name)
            if name == "seasonal_naive":
                label += f" ({self.get('season', '?')})"
            out[label] = m
        return out

    def footer(self):
        """Lines under the table: the season and how it was chosen, then the notes."""
        lines = []
        if "season" in self:
            lines.append(f"seasonal naive: season {self['season']}, {self.get('season_how', '')}".rstrip(", "))
        if self.get("mape_excluded"):
            lines.append(f"MAPE excludes {self['mape_excluded']} zero target(s)")
        return lines + list(self.get("notes", []))

    def step_table(self, metric="rmse"):
        """One line per step ahead: ``metric`` of the model and of each baseline (empty for one step)."""
        if not self.get("per_step"):
            return ""
        names = list(self["per_step"][0]["baselines"])
        w = max(12, *(len(n) + 2 for n in names))
        lines = [f"{metric.upper()} by step ahead" + (f" ({self['units']})" if self.get("units") else ""),
                 f"{'step':>4}{self.model:>{w}}" + "".join(f"{n:>{w}}" for n in names)]
        for row in self["per_step"]:
            lines.append(f"{row['step']:>4}{row[metric]:>{w}.4g}" +
                         "".join(f"{row['baselines'][n][metric]:>{w}.4g}" for n in names))
        return "\n".join(lines)

    def table(self):
        """The plain-text table (units in the headers) with its footer; by step too when there are several."""
        head = f"{self.get('n_scored', '?')} targets scored" + (f", in {self['units']}" if self.get("units") else "")
        steps = f", pooled over {len(self['per_step'])} steps ahead" if self.get("per_step") else ""
        by_step = [self.step_table()] if self.get("per_step") else []
        return "\n".join([head + steps, format_table(self.rows(), self.get("units", "")), *self.footer(),
                          *by_step])

    def show(self):
        """Print the table (once: a Jupyter cell ending with the call that printed it shows nothing more)."""
        print(self.table())
        self._shown_in = _execution_count()

    __str__ = table

    def __repr__(self):
        return self.table()

    def _repr_pretty_(self, p, cycle):
        p.text(self.table() if not cycle else "EvaluationReport(...)")

    def _repr_html_(self):
        u = f" ({self['units']})" if self.get("units") else ""
        cols = ["RMSE" + u, "MAE" + u, "MAPE %", "sMAPE %", "R2", "MASE"]
        keys, fmt = ["rmse", "mae", "mape", "smape", "r2", "mase"], [".3f", ".3f", ".2f", ".2f", ".3f", ".3f"]
        body = "".join(f"<tr><th style='text-align:left'>{_html(name)}</th>"
                       + "".join(f"<td>{m[k]:{f}}</td>" for k, f in zip(keys, fmt)) + "</tr>"
                       for name, m in self.rows().items())
        foot = "".join(f"<br>{_html(line)}" for line in self.footer())
        head = "".join(f"<th>{_html(c)}</th>" for c in ["method", *cols])
        cap = _html(self.table().splitlines()[0])
        return (f"<table><caption style='text-align:left'>{cap}</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><small>{foot[4:]}</small>")

    def _ipython_display_(self):
        from IPython.display import display
        if getattr(self, "_shown_in", None) is not None and self._shown_in == _execution_count():
            self._shown_in = None                  # printed by this very cell already: show it once
            return
        display({"text/plain": self.table(), "text/html": self._repr_html_()}, raw=True)


def _html(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _execution_count():
    """IPython's current execution count, or None outside IPython."""
    return getattr(ipython_shell(), "execution_count", None)


def evaluation_report(truth, pred, y, n, L, horizon, steps, scale, ar_pred, season, how, y_mean=None, units="",
                      model="LSTM"):
    """Score a model and every baseline on the same targets: an ``EvaluationReport``.

    truth, pred, ar_pred: (n, steps, T) in y's units; y: (N, T) the rows evaluated; scale: (T,)
    MASE denominators; season, how: from ``choose_season`` (re-checked against these rows);
    y_mean: (T,) training mean of the targets (the 'mean' baseline; omitted when None).
    Baselines: persistence, seasonal_naive, linear_ar, mean, zero (``baselines.baseline_forecasts``).
    model: the model's name in the table ("LSTM", "GRU").
    """
    season = int(season or 1)
    notes = []
    reach = seasonal_coverage(n, L, horizon, season, steps) if season > 1 else n * steps
    if season > 1 and reach == 0:
        season, how = 1, (f"persistence: season {season} ({how}) needs more than {season} rows before a target, "
                            f"got {len(y)} rows")
    elif reach < n * steps:
        notes.append(f"the first {n * steps - reach} of {n * steps} targets have no value a season earlier "
                     "and use persistence there")
    res = EvaluationReport(regression_metrics(truth, pred, scale))
    res.model = model
    base = baseline_forecasts(persistence_forecast(y, n, L, horizon, steps),
                              seasonal_naive_forecast(y, n, L, horizon, season, steps), ar_pred, truth, mean=y_mean)
    res["baselines"] = {k: regression_metrics(truth, v, scale) for k, v in base.items()}
    if steps > 1:          # the pooled figures above, then each step ahead on its own
        res["per_step"] = [{**regression_metrics(truth[:, [j]], pred[:, [j]], scale), "step": j + 1,
                            "baselines": {k: regression_metrics(truth[:, [j]], v[:, [j]], scale)
                                          for k, v in base.items()}} for j in range(steps)]
    res["n_scored"] = int(truth.size)
    res["season"], res["season_how"], res["units"] = season, how, units or ""
    if looks_like_returns(y):
        notes.append("y looks like returns (mean near zero, frequent sign changes): persistence is a weak "
                     "baseline here; compare with zero and the training mean")
    res["notes"] = notes
    return res


def format_table(results, units=""):
    """A plain-text table: one row per method (model first), RMSE, MAE, MAPE, sMAPE, R2, MASE; a column widens where
    a value needs it, so that a large number never runs into its neighbour."""
    u = f" ({units})" if units else ""
    heads = ("RMSE" + u, "MAE" + u, "MAPE %", "sMAPE %", "R2", "MASE")
    formats = (".3f", ".3f", ".2f", ".2f", ".3f", ".3f")
    cells = [[format(m[k], f) for k, f in zip(("rmse", "mae", "mape", "smape", "r2", "mase"), formats)]
             for m in results.values()]
    widths = [max([least, len(h) + 1] + [len(r[j]) + 1 for r in cells])
              for j, (h, least) in enumerate(zip(heads, (16, 16, 9, 9, 8, 7)))]
    w = max([26] + [len(k) + 2 for k in results])
    lines = [f"{'method':<{w}}" + "".join(f"{h:>{cw}}" for h, cw in zip(heads, widths))]
    for name, row in zip(results, cells):
        lines.append(f"{name:<{w}}" + "".join(f"{c:>{cw}}" for c, cw in zip(row, widths)))
    return "\n".join(lines)
