"""matplotlib figures: training history, forecast against truth and baseline, gate activations, backtests.

Each function returns the Figure (and saves it when ``path`` is given). The Agg
backend is used automatically where there is no display. In Jupyter each figure is shown
once, whether the call is a cell's last line, ends with ``;``, is assigned or is mid-cell.
"""
import numpy as np

from .backend import to_numpy
from .errors import ConfigError


def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline") and \
            not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _has_display():
    import os
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


GATE_NAMES = {"f": "forget gate f_t", "i": "input gate i_t", "c_tilde": "candidate c~_t",
              "o": "output gate o_t", "C": "cell state C_t", "h": "hidden state h_t"}
GRU_GATE_NAMES = {"r": "reset gate r_t", "z": "update gate z_t", "n": "candidate n_t", "h": "hidden state h_t"}


def _save(fig, path):
    """fig.savefig(path), with a ConfigError naming the path and the fix (the figure is closed) on failure."""
    import os
    try:
        p = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(folder):
            raise ConfigError(f"cannot save the plot to {p!r}: folder {folder!r} does not exist; create it first "
                              "(os.makedirs(folder, exist_ok=True)).")
        fig.savefig(p, dpi=110)
    except (ConfigError, TypeError, ValueError, OSError) as e:
        import matplotlib.pyplot as plt
        plt.close(fig)
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"cannot save the plot to {path!r}: {e}. Give a writable file path ending in .png, .pdf or "
                          ".svg.") from None


def _finish(fig, path):
    """Lay out, save when asked, and hand the Figure back so that Jupyter shows it exactly once.

    In Jupyter (inline backend) pyplot shows every open figure at the end of a cell, and a returned
    Figure that is the cell's last value is displayed too: twice. So the figure stays open (a call in
    the middle of a cell, after ``fig = ...`` or with a trailing ``;`` is shown by pyplot), and
    displaying the returned Figure closes pyplot's copy first (``_display_once``). Under Agg (no
    display) it is closed at once; under a GUI backend it stays open for ``plt.show()``.
    """
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    import matplotlib
    backend = matplotlib.get_backend().lower()
    if "inline" in backend and _display_once():
        fig._minilstm_display_once = True
        return fig
    if backend == "agg" or "inline" in backend:
        import matplotlib.pyplot as plt
        plt.close(fig)
    return fig


def _display_once():
    """Make IPython close a minilstm figure's pyplot copy when it displays it (other figures are left
    alone). True when running under IPython with figure formatters."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    formatters = getattr(getattr(ip, "display_formatter", None), "formatters", None)
    if not formatters:
        return False
    from matplotlib.figure import Figure
    registered = False
    for fmt in formatters.values():
        try:
            base = fmt.lookup_by_type(Figure)
        except KeyError:
            continue
        if getattr(base, "_minilstm", False):
            registered = True
            continue

        def printer(fig, base=base):
            if getattr(fig, "_minilstm_display_once", False):
                import matplotlib.pyplot as plt
                plt.close(fig)        # shown here: pyplot's end-of-cell flush must not show it again
            return base(fig)
        printer._minilstm = True
        fmt.for_type(Figure, printer)
        registered = True
    return registered


def plot_history(history, path=None, title="Training history"):
    """history: ``model.train_history`` (list of dicts) or a fitted model. Loss curves (log scale),
    gradient norm and learning rate per epoch; every epoch is marked, so a one-epoch history shows."""
    if hasattr(history, "train_history"):
        history = history.train_history
    if not history:
        from .errors import DataError
        raise DataError("plot_history got an empty history: fit the model first (model.fit(X, y)), then pass "
                        "model.train_history.")
    plt = _plt()
    ep = [r["epoch"] for r in history]
    mk = {"marker": "o", "markersize": 4 if len(ep) <= 50 else 0}
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [r["train_loss"] for r in history], label="train", **mk)
    if any(r.get("val_loss") is not None for r in history):
        a.plot(ep, [np.nan if r.get("val_loss") is None else r["val_loss"] for r in history], label="validation", **mk)
    a.set_yscale("log")
    a.set_xlabel("epoch")
    a.set_ylabel("loss (normalized units)")
    a.set_title(title)
    a.legend()
    lines = b.plot(ep, [r["grad_norm"] for r in history], color="C2", label="mean |grad| (before clipping)", **mk)
    b.set_xlabel("epoch")
    b.set_ylabel("gradient norm")
    b2 = b.twinx()
    lines += b2.plot(ep, [r["lr"] for r in history], color="C3", ls="--", label="learning rate (right axis)", **mk)
    b2.set_ylabel("learning rate")
    b.legend(lines, [ln.get_label() for ln in lines], loc="best", fontsize="small")
    b.set_title("gradient norm and learning rate")
    if len(ep) == 1:
        a.set_xlim(ep[0] - 1, ep[0] + 1)
        b.set_xlim(ep[0] - 1, ep[0] + 1)
    return _finish(fig, path)


def plot_forecast(truth, prediction, baseline=None, baseline_name="baseline", index=None, units="",
                  path=None, title="Forecast against truth", last=None):
    """truth, prediction (and an optional baseline): 1-D arrays in original units; ``last`` keeps the last n points."""
    plt = _plt()
    if index is None and hasattr(truth, "index"):           # a pandas Series carries its time axis
        index = truth.index
    truth, prediction = np.asarray(truth).ravel(), np.asarray(prediction).ravel()
    x = np.arange(len(truth)) if index is None else np.asarray(index)
    sl = slice(-last, None) if last else slice(None)
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.plot(x[sl], truth[sl], color="black", lw=1.2, label="truth")
    ax.plot(x[sl], prediction[sl], color="C0", lw=1.0, label="minilstm")
    if baseline is not None:
        ax.plot(x[sl], np.asarray(baseline).ravel()[sl], color="C1", lw=0.9, ls="--", label=baseline_name)
    ax.set_ylabel(units)
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    return _finish(fig, path)


def plot_gates(acts, X=None, window=-1, layer=-1, sample=0, units=None, path=None,
               title="Gate activations over time"):
    """One heatmap per quantity f, i, c~, o, C, h (a GRU's: r, z, n, h) (time step on x, hidden unit on y).

    acts: the dict of ``LSTMModel.gate_activations(X, window, layer)`` (each (T, H)), a fitted
    ``LSTMModel`` together with ``X`` (then that method is called here), or the dict of
    ``LSTM.gate_activations()`` (each (B, T, H); ``sample`` picks the batch row).
    ``units`` shows only the first ``units`` hidden units; the title says how many of how many.
    """
    if hasattr(acts, "gate_activations") and not isinstance(acts, dict):
        if X is None:
            from .errors import InputTypeError
            raise InputTypeError("plot_gates(model, X): pass the input X whose window to show, or pass the dict "
                                 "returned by model.gate_activations(X).")
        acts = acts.gate_activations(X, window=window, layer=layer)
    names = GRU_GATE_NAMES if "r" in acts else GATE_NAMES
    arrays = {k: to_numpy(acts[k]) for k in names}          # CuPy arrays come back to the host
    arrays = {k: (a[sample] if a.ndim == 3 else a) for k, a in arrays.items()}
    H = arrays["h"].shape[1]
    shown = H if units is None else max(1, min(int(units), H))
    plt = _plt()
    fig, axes = plt.subplots(2, len(names) // 2, figsize=(4 * len(names) // 2, 5.5), sharex=True)
    for ax, k in zip(axes.ravel(), names):
        a = arrays[k][:, :shown]
        valve = k in ("f", "i", "o", "r", "z")                  # gates in (0, 1)
        lim = (0, 1) if valve else (-max(1e-9, np.abs(a).max()), max(1e-9, np.abs(a).max()))
        im = ax.imshow(a.T, aspect="auto", origin="lower", vmin=lim[0], vmax=lim[1],
                       cmap="viridis" if valve else "coolwarm", interpolation="nearest")
        ax.set_title(names[k])
        ax.set_ylabel("unit")
        fig.colorbar(im, ax=ax)
    for ax in axes[-1]:
        ax.set_xlabel("time step t")
    fig.suptitle(f"{title} ({'all ' + str(H) if shown == H else f'first {shown} of {H}'} units)")
    return _finish(fig, path)


def plot_backtest(result, path=None, target=0, baseline="persistence", units="", max_paths=150,
                  title="Backtest: the forecasts of every origin against the truth"):
    """A ``minilstm.forecast.backtest`` result in two panels.

    Top: the truth over the backtest span, every origin's forecasts (one colour per fold; with
    ``steps`` > 1 each origin's path is a line, at most ``max_paths`` of them) and a baseline
    (None for none). Bottom: the rolling origins as a picture: per fold, the rows it was fitted on
    and the rows it forecast. ``target`` picks the column of a multi-target y.
    """
    plt = _plt()
    r = result
    index = r.settings.get("index")
    if getattr(index, "tz", None) is not None:              # tz-aware pandas: plot the local wall-clock time
        index = index.tz_localize(None)
    at = (lambda rows: np.asarray(index)[rows]) if index is not None else (lambda rows: np.asarray(rows))
    truth, pred = r.truth[..., target], r.forecasts[..., target]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), height_ratios=[2.2, 1], sharex=False)
    rows = np.unique(r.target_rows)
    first = {int(t): truth[i, s] for i, row in enumerate(r.target_rows) for s, t in enumerate(row)}
    top.plot(at(rows), [first[int(t)] for t in rows], color="black", lw=1.0, label="truth")
    steps = r.target_rows.shape[1]
    for f in r.folds:
        sel = np.flatnonzero(r.fold_of == f["fold"])
        color = f"C{f['fold'] % 10}"
        if steps == 1:
            top.plot(at(r.target_rows[sel, 0]), pred[sel, 0], color=color, lw=0.9,
                     label="minilstm (a colour per fold)" if f["fold"] == 0 else None)
        else:
            for j in sel[::max(1, len(r.origins) // max_paths)]:
                top.plot(at(r.target_rows[j]), pred[j], color=color, lw=0.8, alpha=0.8,
                         label="minilstm, one path per origin" if j == 0 else None)
    if baseline is not None and steps == 1:
        top.plot(at(r.target_rows[:, 0]), r.baselines[baseline][:, 0, target], color="gray", lw=0.8, ls="--",
                 label=baseline.replace("_", " "))
    top.set_ylabel(units)
    top.set_title(title)
    top.legend(loc="upper right", fontsize="small")
    for f in r.folds:
        lo, o = f["train_rows"]
        end = int(r.target_rows[r.fold_of == f["fold"]].max())
        bottom.hlines(f["fold"], at(lo), at(o - 1), color="C0", lw=5, label="fitted on" if f["fold"] == 0 else None)
        bottom.hlines(f["fold"], at(f["first_origin"]), at(end), color="C1", lw=5,
                      label="forecast" if f["fold"] == 0 else None)
    from matplotlib.ticker import MaxNLocator
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.invert_yaxis()
    bottom.set_ylabel("fold")
    bottom.set_title(f"rolling origins ({r.settings.get('window')} window, refit={r.settings.get('refit')})")
    bottom.legend(loc="best", fontsize="small")
    for ax in (top, bottom):                                 # each panel keeps its own dates
        ax.tick_params(axis="x", labelrotation=20)
    return _finish(fig, path)
