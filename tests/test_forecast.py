"""LSTMModel: the windowing contract, training loop behaviour, predict/forecast/evaluate."""
import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import TrainingDivergedError
from minilstm.forecast import windows as W

SMALL = {"hidden_size": 8, "num_layers": 1, "epochs": 3, "sequence_length": 6, "batch_size": 16, "device": "cpu"}


def sine(n=240, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) / 5.0) * 10 + 50 + 0.3 * rng.standard_normal(n)


def test_window_contract_on_hand_made_series():
    y = np.arange(10.0)[:, None] + 100
    # window j covers rows [j, j+3) and predicts y[j + 3 - 1 + horizon]
    assert W.n_windows(10, 3) == 8 and W.n_labeled(10, 3, 1) == 7 and W.n_labeled(10, 3, 0) == 8
    np.testing.assert_array_equal(W.window_targets(y, 3, 1)[:, 0, 0], 100 + np.arange(3, 10))
    np.testing.assert_array_equal(W.window_targets(y, 3, 0)[:, 0, 0], 100 + np.arange(2, 10))
    np.testing.assert_array_equal(W.window_targets(y, 3, 2, steps=2)[0, :, 0], [104, 105])
    Xw = W.sliding_windows(np.arange(10.0)[:, None], 3)
    np.testing.assert_array_equal(Xw[4, :, 0], [4, 5, 6])


@pytest.mark.parametrize("horizon", [0, 1, 3])
def test_contract_is_the_one_fit_and_evaluate_use(horizon):
    """X[t] = 2 z[t + horizon] + 1 is a perfect leading indicator of y[t] = z[t] exactly when target =
    y[j+L-1+horizon] (an affine copy: with horizon 0 a column equal to y would be refused, a leak)."""
    z = np.cumsum(np.random.default_rng(1).standard_normal(300))
    X, y = 2 * z[horizon:] + 1, z[:len(z) - horizon] if horizon else z
    m = LSTMModel({**SMALL, "sequence_length": 4, "horizon": horizon, "epochs": 1})
    m.fit(X[:200], y[:200], verbose=False)
    res = m.evaluate(X[200:], y[200:], verbose=False)
    assert res["baselines"]["linear_ar"]["rmse"] < 1e-3 * np.std(z)   # off by one row it would be ~1
    # persistence on a random walk: error is the sum of `horizon` increments (or one, for horizon 0)
    assert res["n_scored"] == W.n_labeled(len(X) - 200, 4, horizon)


def test_persistence_and_seasonal_baselines_on_a_line():
    t = np.arange(80.0)
    m = LSTMModel({**SMALL, "sequence_length": 5, "horizon": 2, "epochs": 1, "season": 7})
    m.fit(t, t, verbose=False)
    res = m.evaluate(t, t, verbose=False)
    assert res["baselines"]["persistence"]["mae"] == pytest.approx(2.0)      # y[j+L-1] for target y[j+L+1]
    n = res["n_scored"]   # one whole season back; the first target (row 6) has no row 6 - 7: persistence there
    assert res["baselines"]["seasonal_naive"]["mae"] == pytest.approx((7.0 * (n - 1) + 2.0) / n)
    assert res["season"] == 7


def test_fit_history_and_prediction_shapes():
    s = sine()
    m = LSTMModel(SMALL)
    assert m.fit(s, s, verbose=False) is m
    assert len(m.train_history) == 3
    row = m.train_history[0]
    assert set(row) == {"epoch", "train_loss", "val_loss", "grad_norm", "lr", "seconds"}
    assert all(np.isfinite(r["train_loss"]) and np.isfinite(r["val_loss"]) for r in m.train_history)
    p = m.predict(s)
    assert p.shape == (len(s) - 6 + 1,)
    X2 = np.column_stack([s, np.cos(np.arange(len(s)))])
    y2 = np.column_stack([s, s * 2])
    m2 = LSTMModel({**SMALL, "epochs": 1}).fit(X2, y2, verbose=False)
    assert m2.predict(X2).shape == (len(s) - 5, 2)
    assert m2.forecast(X2, 1).shape == (1, 2)


def test_train_loss_is_sample_weighted_mean_including_short_batch():
    s = sine(100)
    m = LSTMModel({**SMALL, "epochs": 1, "batch_size": 7, "learning_rate": 1e-12, "shuffle": False, "baseline": None,
                   "dropout": 0.0})
    m.fit(s, s, validation_split=0.0, verbose=False)
    # lr ~ 0: the weights barely move, so the epoch's loss equals the loss of the initial weights on all windows
    Xw = m._nx(s[:, None])
    wins = W.sliding_windows(Xw, 6)[:W.n_labeled(100, 6, 1)]
    target = W.window_targets(m._ny(s[:, None]), 6, 1).reshape(len(wins), -1)
    pred = m._predict_windows(wins)
    assert m.train_history[0]["train_loss"] == pytest.approx(float(((pred - target) ** 2).mean()), rel=1e-4)
    assert m.train_history[0]["val_loss"] is None


def test_validation_is_last_windows_and_normalizer_sees_training_rows_only():
    s = np.concatenate([np.zeros(150), np.full(50, 1000.0)]) + np.random.default_rng(0).standard_normal(200)
    m = LSTMModel({**SMALL, "epochs": 1})
    m.fit(s, s, validation_split=0.25, verbose=False)
    assert m.info["n_val_windows"] == round(W.n_labeled(200, 6, 1) * 0.25)
    last_train_row = m.info["n_train_windows"] - 1 + 6 - 1 + 1
    assert abs(m.y_normalizer.state["center"][0] - s[:last_train_row + 1].mean()) < 1e-9
    assert m.y_normalizer.state["center"][0] < 500   # the jump at the end is validation-only


def test_early_stopping_restores_best_weights():
    s = sine(200)
    m = LSTMModel({**SMALL, "epochs": 40, "patience": 2, "learning_rate": 0.05, "lr_schedule": None, "baseline": None})
    m.fit(s, s, verbose=False)
    vals = [r["val_loss"] for r in m.train_history]
    best = int(np.argmin(vals)) + 1
    assert m.info["best_epoch"] == best
    assert len(vals) < 40 and len(vals) - best == 2
    # the restored weights reproduce the best validation loss
    from minilstm.functional import mse_loss
    n = W.n_labeled(200, 6, 1)
    Xw = W.sliding_windows(m._nx(s[:, None]), 6)[:n]
    Y = W.window_targets(m._ny(s[:, None]), 6, 1).reshape(n, -1)
    va = slice(n - m.info["n_val_windows"], n)
    assert mse_loss(m._predict_windows(Xw[va]), Y[va])[0] == pytest.approx(min(vals), rel=1e-4)


def test_nan_loss_stops_with_diagnosis_and_keeps_best_weights(monkeypatch):
    s = sine(200)
    m = LSTMModel({**SMALL, "epochs": 5})
    import minilstm.forecast.training as mod
    calls = {"n": 0}
    real = mod.LOSSES["mse"]

    def poisoned(pred, target):
        calls["n"] += 1
        loss, g = real(pred, target)
        return (float("nan"), g) if calls["n"] > 25 else (loss, g)

    monkeypatch.setitem(mod.LOSSES, "mse", poisoned)
    with pytest.raises(TrainingDivergedError) as e:
        m.fit(s, s, verbose=False)
    msg = str(e.value)
    assert "epoch" in msg and "batch" in msg and "learning rate" in msg
    assert m.is_fitted and m.info["best_epoch"] >= 1
    assert np.isfinite(m.predict(s)).all()
    assert len(m.train_history) == m.info["best_epoch"]


def test_keyboard_interrupt_keeps_best_weights_and_history(monkeypatch):
    s = sine(200)
    m = LSTMModel({**SMALL, "epochs": 10})
    import minilstm.forecast.training as mod
    real, calls = mod.clip_grad_norm, {"n": 0}

    def interrupt(g, n):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return real(g, n)

    monkeypatch.setattr(mod, "clip_grad_norm", interrupt)
    m.fit(s, s, verbose=False)
    assert m.is_fitted and 1 <= len(m.train_history) < 10
    assert np.isfinite(m.predict(s)).all()


def test_multi_step_direct_and_recursive():
    s = sine(300)
    direct = LSTMModel({**SMALL, "output_steps": 4}).fit(s, s, verbose=False)
    p = direct.predict(s, steps=4)
    assert p.shape == (300 - 6 + 1, 4)
    assert direct.forecast(s, steps=4).shape == (4,)
    with pytest.raises(ValueError, match="output_steps"):
        direct.predict(s, steps=5)
    rec = LSTMModel({**SMALL, "baseline": None}).fit(s, s, verbose=False)     # the network alone: see test_smoothing
    r = rec.predict(s, steps=3)
    assert r.shape == (295, 3)
    np.testing.assert_allclose(r[:, 0], rec.predict(s), rtol=1e-6)
    # step 2 of window j is step 1 of the window that ends with window j's first prediction
    w = np.concatenate([s[10:16][1:], [r[10, 0]]])
    np.testing.assert_allclose(rec.predict(w)[0], r[10, 1], rtol=1e-5)
    f = rec.forecast(s, steps=5)
    assert f.shape == (5,) and np.isfinite(f).all() and np.ptp(f) > 0   # not zeros, not constant
    X2 = np.column_stack([s, np.cos(np.arange(300))])
    cov = LSTMModel(SMALL).fit(X2, s, verbose=False)
    with pytest.raises(ValueError, match="output_steps"):
        cov.predict(X2, steps=2)


def test_target_columns_make_y_optional_and_enable_recursion():
    s = sine(200)
    X = np.column_stack([s, s[::-1]])
    m = LSTMModel({**SMALL, "target_columns": [0, 1]}).fit(X, verbose=False)
    assert m.predict(X, steps=2).shape == (195, 2, 2)
    assert {"persistence", "seasonal_naive", "linear_ar"} <= set(m.evaluate(X, verbose=False)["baselines"])


def test_evaluate_reports_all_metrics_in_original_units(capsys):
    s = sine(300) * 1000
    m = LSTMModel({**SMALL, "epochs": 5}).fit(s[:220], s[:220], verbose=False)
    res = m.evaluate(s[214:], s[214:])
    for k in ("mse", "rmse", "mae", "mape", "smape", "r2", "mase"):
        assert np.isfinite(res[k]), k
    pred = m.predict(s[214:])[:-1]
    truth = s[220:]
    assert res["rmse"] == pytest.approx(np.sqrt(np.mean((pred - truth) ** 2)), rel=1e-9)
    assert res["mae"] == pytest.approx(np.mean(np.abs(pred - truth)), rel=1e-9)
    out = capsys.readouterr().out
    assert "persistence" in out and "linear_ar" in out and "RMSE" in out


def test_mape_excludes_zero_targets():
    from minilstm.forecast.metrics import regression_metrics
    r = regression_metrics(np.array([[0.0], [2.0], [4.0]]), np.array([[1.0], [1.0], [5.0]]))
    assert r["mape_excluded"] == 1
    assert r["mape"] == pytest.approx((0.5 + 0.25) / 2 * 100)


def test_verbose_prints_progress_and_quiet_prints_nothing(capsys):
    s = sine(120)
    LSTMModel({**SMALL, "epochs": 2}).fit(s, s, verbose=True)
    out = capsys.readouterr().out
    assert "epoch   1/2" in out and "epoch   2/2" in out and "left" in out
    LSTMModel({**SMALL, "epochs": 2}).fit(s, s, verbose=False)
    assert capsys.readouterr().out == ""


def test_lr_schedules_and_adamw():
    s = sine(150)
    for sched in ("cosine", "step", "plateau"):
        m = LSTMModel({**SMALL, "epochs": 4, "lr_schedule": sched, "weight_decay": 0.01, "patience": None})
        m.fit(s, s, verbose=False)
        lrs = [r["lr"] for r in m.train_history]
        assert lrs[0] == pytest.approx(0.001) and len(lrs) == 4
        if sched != "plateau":
            assert lrs[-1] < lrs[0]


def test_pandas_in_and_out():
    pd = pytest.importorskip("pandas")
    s = sine(150)
    df = pd.DataFrame({"a": s, "b": np.cos(np.arange(150))})
    m = LSTMModel({**SMALL, "epochs": 1}).fit(df, pd.Series(s, name="a"), verbose=False)
    assert m.predict(df).shape == (145,)
    bad = df.assign(c=["x"] * 150)
    with pytest.raises(ValueError, match="non-numeric"):
        LSTMModel(SMALL).fit(bad, s, verbose=False)


def test_gate_activations_are_those_of_the_window_predict_reads():
    s = sine(120)
    m = LSTMModel({**SMALL, "num_layers": 2, "epochs": 1, "baseline": None}).fit(s, s, verbose=False)   # no smoother
    acts = m.gate_activations(s)                       # the last window: rows [114, 120)
    assert set(acts) == {"f", "i", "c_tilde", "o", "C", "h"}
    assert all(isinstance(a, np.ndarray) and a.shape == (6, 8) for a in acts.values())
    np.testing.assert_allclose(acts["h"], acts["o"] * np.tanh(acts["C"]), rtol=1e-5, atol=1e-6)
    assert ((acts["f"] > 0) & (acts["f"] < 1)).all()
    # the top layer's last h_t, through the head and the target normalizer, is the last prediction
    head = m.head.params
    pred = acts["h"][-1] @ np.asarray(head["W"], dtype=np.float64) + np.asarray(head["b"], dtype=np.float64)
    pred = m.y_normalizer.inverse_transform(pred.reshape(1, -1))[0, 0]
    assert pred == pytest.approx(m.predict(s)[-1], rel=1e-4)
    # window j of X is window 0 of X[j:j+L]; the first layer differs from the top one
    np.testing.assert_allclose(m.gate_activations(s, window=10)["C"], m.gate_activations(s[10:16], window=0)["C"],
                               rtol=1e-6)
    assert not np.allclose(m.gate_activations(s, layer=0)["h"], acts["h"])
    for bad in ({"window": 115}, {"window": 1.0}, {"layer": 2}, {"layer": -3}):
        with pytest.raises(ValueError, match="window|layer"):
            m.gate_activations(s, **bad)


def test_plot_gates_says_how_many_units_it_shows():
    pytest.importorskip("matplotlib")
    from minilstm import plotting
    s = sine(80)
    m = LSTMModel({**SMALL, "epochs": 1}).fit(s, s, verbose=False)
    fig = plotting.plot_gates(m.gate_activations(s), units=3)
    assert "first 3 of 8 units" in fig._suptitle.get_text()
    fig = plotting.plot_gates(m, s, window=0)
    assert "all 8 units" in fig._suptitle.get_text()
    assert fig.axes[0].images[0].get_array().shape == (8, 6)        # units x time steps of one window


def test_predict_and_forecast_are_indexed_by_target_time_on_pandas():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2021-03-01", periods=150, freq="h")
    df = pd.DataFrame({"load": sine(150), "temp": np.cos(np.arange(150) / 9.0)}, index=idx)
    m = LSTMModel({**SMALL, "epochs": 1}).fit(df, df["load"], verbose=False)
    p = m.predict(df)
    assert isinstance(p, pd.Series) and p.name == "load" and len(p) == 145
    # window j covers rows [j, j+6) and predicts row j+6: the first prediction is for idx[6], the last one
    # for the hour after the data end
    assert p.index[0] == idx[6] and p.index[-1] == idx[-1] + pd.Timedelta(hours=1)
    np.testing.assert_allclose(p.to_numpy(), m.predict(df.to_numpy()))          # arrays in, arrays out
    f = m.forecast(df)
    assert isinstance(f, pd.Series) and f.index[0] == idx[-1] + pd.Timedelta(hours=1)
    assert f.iloc[0] == pytest.approx(p.iloc[-1])
    # two targets, direct multi-step: (step, target) columns
    m2 = LSTMModel({**SMALL, "epochs": 1, "output_steps": 2}).fit(df, df, verbose=False)
    P = m2.predict(df, steps=2)
    assert P.shape == (145, 4) and list(P.columns.get_level_values("target")[:2]) == ["load", "temp"]
    F = m2.forecast(df, steps=2)
    assert list(F.columns) == ["load", "temp"] and list(F.index) == [idx[-1] + pd.Timedelta(hours=h) for h in (1, 2)]
    # fitted on NumPy: arrays even for pandas input
    assert isinstance(LSTMModel({**SMALL, "epochs": 1}).fit(df.to_numpy(), df["load"].to_numpy(),
                                                          verbose=False).predict(df), np.ndarray)


def test_columns_are_matched_by_name():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": sine(120), "b": np.cos(np.arange(120) / 4.0)})
    m = LSTMModel({**SMALL, "epochs": 1}).fit(df, df["a"], verbose=False)
    np.testing.assert_array_equal(m.predict(df[["b", "a"]]), m.predict(df))
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        m.predict(df[["a"]].assign(c=1.0))


def test_keyword_configuration_styles():
    assert LSTMModel(hidden_size=7).config["hidden_size"] == 7
    m = LSTMModel({"hidden_size": 7, "epochs": 3}, epochs=4)
    assert (m.config["hidden_size"], m.config["epochs"]) == (7, 4)
    assert LSTMModel(config={"num_layers": 3}).config["num_layers"] == 3


def test_plots_close_pyplots_copy_mark_every_epoch_and_label_both_axes():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from minilstm import plotting
    s = sine(80)
    m = LSTMModel({**SMALL, "epochs": 1}).fit(s, s, verbose=False)
    fig = plotting.plot_history(m.train_history)
    assert fig.number not in plt.get_fignums()                  # returned once, not shown again by pyplot
    loss_ax, grad_ax = fig.axes[0], fig.axes[1]
    assert all(line.get_marker() == "o" for line in loss_ax.get_lines())   # one epoch is a visible point
    labels = [t.get_text() for t in grad_ax.get_legend().get_texts()]
    assert any("grad" in t for t in labels) and any("learning rate" in t for t in labels)
    assert plotting.plot_history(m) is not None                            # a fitted model works too
    with pytest.raises(ValueError, match="empty history"):
        plotting.plot_history([])


def test_jupyter_shows_each_plot_once(monkeypatch):
    """Inline backend: the figure stays open for pyplot's end-of-cell display, and displaying the returned
    Figure (a cell's last value) closes pyplot's copy first, so either way it is shown exactly once."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("IPython")
    import IPython
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from minilstm import plotting

    class Formatter:                       # the part of IPython's PNG formatter that plotting uses
        def __init__(self):
            self.printers = {Figure: lambda fig: b"png"}

        def lookup_by_type(self, t):
            return self.printers[t]

        def for_type(self, t, f):
            self.printers[t] = f

    png = Formatter()
    shell = type("Shell", (), {"display_formatter": type("DF", (), {"formatters": {"image/png": png}})()})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    s = sine(60)
    m = LSTMModel({**SMALL, "epochs": 1}).fit(s, s, verbose=False)
    fig = plotting.plot_history(m)
    assert fig.number in plt.get_fignums()                       # pyplot will show it if it is not the value
    assert png.lookup_by_type(Figure)(fig) == b"png"              # displayed as the cell's value ...
    assert fig.number not in plt.get_fignums()                   # ... and pyplot's copy closed: once
    other = plt.figure()
    png.lookup_by_type(Figure)(other)
    assert other.number in plt.get_fignums()                     # other figures are left alone
    plt.close(other)
    plotting.plot_history(m)
    assert sum(getattr(p, "_minilstm", False) for p in png.printers.values()) == 1   # registered once
    plt.close("all")


def test_pandas_labels_survive_save_and_load(tmp_path):
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2022-01-01", periods=120, freq="D")
    df = pd.DataFrame({"a": sine(120), "b": np.cos(np.arange(120) / 7.0)}, index=idx)
    m = LSTMModel({**SMALL, "epochs": 1}).fit(df, df["a"], verbose=False)
    loaded = LSTMModel().load(m.save(str(tmp_path / "m.minilstm")))
    p = loaded.predict(df[["b", "a"]])                       # columns realigned by name after loading too
    assert isinstance(p, pd.Series) and p.index[-1] == idx[-1] + pd.Timedelta(days=1)
    pd.testing.assert_series_equal(p, m.predict(df))
