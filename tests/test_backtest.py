"""Rolling-origin backtests: no fold sees a row at or after its origin; baselines as in evaluate; bad settings;
the plot, the command line and the benchmark's quick mode."""
import os
import sys

import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import ConfigError, DataError
from minilstm.forecast import backtest

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks")
CFG = {"hidden_size": 4, "num_layers": 1, "sequence_length": 12, "epochs": 2, "batch_size": 16, "seed": 3,
       "patience": None}


def series(n=140, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / 12) + 0.3 * rng.standard_normal(n)
    return np.c_[y, np.cos(2 * np.pi * t / 12)], y


def poisoned(X, y, o):
    Xp, yp = X.copy(), y.copy()
    Xp[o:], yp[o:] = 1e6, 1e6          # garbage after the origin (y stays X's first column, as it is)
    return Xp, yp


WINDOW_MECHANISMS = {"scaling": "window", "baseline": "seasonal_naive", "season": 12, "refit_full": True}
SMOOTHING = {"baseline": "ets", "season": 12, "refit_full": True}     # its states read every row before the origin
SMOOTHER_ALONE = {"baseline": "ets", "season": 12, "learning_rate": 1e-9}   # network set aside: the smoother
                                                                         # chosen again on every row of the fold


@pytest.mark.parametrize("settings,mechanisms", [
    (dict(step=17, refit=True, window="expanding"), {}),
    (dict(step=6, refit=3, window="sliding", train_size=60), {}),
    (dict(step=9, refit=False, window="expanding"), {}),
    (dict(step=17, refit=True, window="expanding"), WINDOW_MECHANISMS),      # per-window scaling, baseline, refit
    (dict(step=9, refit=False, window="expanding"), WINDOW_MECHANISMS),
    (dict(step=17, refit=True, window="expanding"), SMOOTHING),
    (dict(step=9, refit=False, window="expanding"), SMOOTHING),
    (dict(step=6, refit=3, window="sliding", train_size=60), SMOOTHING),
    (dict(step=17, refit=True, window="expanding"), SMOOTHER_ALONE),
], ids=["expanding", "sliding", "once", "expanding-window-mechanisms", "once-window-mechanisms", "expanding-ets",
        "once-ets", "sliding-ets", "expanding-ets-refit-baseline"])
def test_no_fold_sees_a_row_at_or_after_its_origin(settings, mechanisms):
    X, y = series()
    cfg = dict(CFG, output_steps=2, **mechanisms)
    clean = backtest(cfg, X, y, start=70, steps=2, verbose=False, **settings)
    assert len(clean.origins) >= 4
    if mechanisms is SMOOTHER_ALONE:                                    # the mechanism under test did run
        assert all(f["baseline_refit"] and f["network_kept"] is False for f in clean.folds)
    for o in clean.origins[1:]:
        r = backtest(cfg, *poisoned(X, y, o), start=70, steps=2, verbose=False, **settings)
        seen = clean.origins <= o
        np.testing.assert_allclose(r.forecasts[seen], clean.forecasts[seen], rtol=1e-6)
        for name in ("persistence", "seasonal_naive", "linear_ar", "mean"):
            np.testing.assert_allclose(r.baselines[name][seen], clean.baselines[name][seen], rtol=1e-9)
        if o < clean.origins[-1]:     # the poison is there: the later origins' forecasts change
            assert not np.allclose(r.forecasts[~seen], clean.forecasts[~seen])


def test_folds_refit_schedule_and_targets():
    X, y = series()
    r = backtest(CFG, X, y, start=70, step=5, refit=3, verbose=False)
    assert list(r.origins) == list(range(70, 140, 5))
    assert [f["fit_origin"] for f in r.folds] == list(r.origins[::3])
    assert all(f["train_rows"] == (0, f["fit_origin"]) for f in r.folds)
    np.testing.assert_array_equal(r.truth[:, 0, 0], y[r.origins])            # horizon 1: the origin's row
    assert r.per_origin()["model"].shape == (len(r.origins),)
    assert "all" in r.table() and r.metrics["n_scored"] == len(r.origins)


def test_one_origin_scores_like_evaluate_on_the_same_row():
    """A fold equals fit(rows < o) then evaluate on the one window that ends before o."""
    X, y = series()
    o, L = 100, CFG["sequence_length"]
    r = backtest(CFG, X, y, start=o, step=100, verbose=False)
    m = LSTMModel(CFG).fit(X[:o], y[:o], verbose=False)
    ev = m.evaluate(X[o - L:o + 1], y[o - L:o + 1], season=12, verbose=False)
    assert ev["n_scored"] == 1 and r.metrics["season"] == 12
    assert r.metrics["mae"] == pytest.approx(ev["mae"], rel=1e-5)
    for name in ("persistence", "seasonal_naive", "linear_ar", "mean", "zero"):
        assert r.metrics["baselines"][name]["mae"] == pytest.approx(ev["baselines"][name]["mae"], rel=1e-4), name


def test_recursive_steps_on_a_univariate_series():
    _, y = series(100)
    r = backtest(CFG, y, y, start=60, step=10, steps=3, verbose=False)
    assert r.forecasts.shape == (len(r.origins), 3, 1)
    np.testing.assert_array_equal(r.target_rows[:, 2], r.origins + 2)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(start=13), DataError, "training rows"),
    (dict(start=139, steps=3), DataError, "no fold.*Move start earlier"),
    (dict(start=3), DataError, r"no fold.*Move start later \(to row"),
    (dict(start=70, step=0), ConfigError, "step"),
    (dict(start=70, refit=0), ConfigError, "refit"),
    (dict(start=70, window="rolling"), ConfigError, "sliding"),
    (dict(start=70, steps=3), ConfigError, "output_steps"),
    (dict(start="2014-01-01"), ConfigError, "time index"),
    (dict(start=70, validation_split=1.5), ConfigError, "validation_split"),
])
def test_bad_settings_say_what_to_change(kwargs, error, words):
    X, y = series()
    with pytest.raises(error, match=words):
        backtest(CFG, X, y, verbose=False, **kwargs)


def test_steps_beyond_a_multi_step_model_are_refused_before_any_fit(monkeypatch):
    """Only a one-step model can feed its forecasts back: steps > output_steps > 1 is refused upfront, even on a
    univariate series, not after a fold's fit."""
    import minilstm.forecast.backtesting as bt
    monkeypatch.setattr(bt, "fit_and_forecast", lambda *a, **k: pytest.fail("a fold was fitted"))
    _, y = series(100)
    with pytest.raises(ConfigError, match=r"one-step model, output_steps=1.*output_steps'\]=7"):
        backtest(dict(CFG, output_steps=6), y, start=60, step=10, steps=7, verbose=False)


def test_dates_pick_the_origin_with_a_time_index():
    pd = pytest.importorskip("pandas")
    X, y = series()
    idx = pd.date_range("2020-01-01", periods=len(y), freq="h")
    r = backtest(CFG, pd.DataFrame(X, index=idx), pd.Series(y, index=idx), start="2020-01-04 06:00", step=30,
                 verbose=False)
    assert r.origins[0] == 78 and str(r.times[0]).startswith("2020-01-04T06")


def test_the_plot_draws_every_fold():
    X, y = series()
    r = backtest(CFG, X, y, start=70, step=5, refit=4, verbose=False)
    fig = r.plot()
    top, bottom = fig.axes
    assert len(top.lines) == 1 + len(r.folds) + 1                # truth, a line per fold, persistence
    assert len(bottom.collections) == 2 * len(r.folds)           # fitted-on and forecast bars


def test_cli_backtest_on_a_csv_prints_the_tables_and_writes_the_plot(tmp_path, capsys):
    from minilstm.cli import main
    X, y = series(100)
    path = tmp_path / "s.csv"
    rows = ["time,demand,cos"] + [f"2020-01-{1 + i // 24:02d}T{i % 24:02d}:00,{a},{b}" for i, (a, b) in enumerate(X)]
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    args = ["backtest", str(path), "--start", "0.7", "--refit", "10", "--epochs", "1", "--hidden-size", "4",
            "--sequence-length", "12", "--out", str(out), "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "fold" in text and "persistence" in text and "targets scored" in text
    assert (out / "backtest.png").stat().st_size > 1000
    (out / "backtest.png").write_bytes(b"old")            # a second run replaces it and says so first
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"minilstm backtest: replacing backtest.png in {out}/")
    assert (out / "backtest.png").stat().st_size > 1000
    (out / "backtest.png").unlink()
    (out / "backtest.png").mkdir()                        # what cannot be replaced is refused before any work
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2 and "not a writable file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backtest", "no-such-dataset"])
    assert main(["backtest", str(path), "--target", "price", "--out", str(tmp_path / "o2")]) == 1
    assert "'price' is not a column" in capsys.readouterr().err


def test_benchmark_quick_mode_writes_every_table(tmp_path):
    sys.path.insert(0, BENCH)
    import bench_backtest as bb
    res = bb.main(["--quick", "--jobs", "1", "--out", str(tmp_path)])
    text = (tmp_path / "backtest.md").read_text()
    assert "| **minilstm LSTM** |" in text and "80% interval coverage" in text and "speed-up" in text
    assert len(res["backtests"]["1h"]["folds"]) == len(res["backtests"]["24h"]["folds"]) == 2
    assert res["speedup"]["same_numbers"] and (tmp_path / "backtest.png").exists()
    readme = f"a\n{bb.README_START}\nold\n{bb.README_END}\nb"
    assert bb.replace_readme(readme, "new") == f"a\n{bb.README_START}\nnew\n{bb.README_END}\nb"
