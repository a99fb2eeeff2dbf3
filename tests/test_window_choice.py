"""config['sequence_length'] None (the default): fit chooses the window from the season it finds."""
import numpy as np
import pandas as pd
import pytest
from conftest import rewrite_metadata

from minilstm import LSTMEnsemble, LSTMModel
from minilstm.errors import ModelFileError
from minilstm.forecast import backtest
from minilstm.forecast.fitting import with_window
from minilstm.forecast.seasons import window_length

QUICK = {"hidden_size": 4, "num_layers": 1, "epochs": 2, "batch_size": 64, "seed": 0, "device": "cpu"}


@pytest.mark.parametrize("n_rows,k,season,L", [
    (400, 12, 12, 24),      # monthly: two years
    (3000, 24, 24, 48),     # hourly: two days
    (3000, 48, 48, 96),     # half-hourly
    (800, 13, 52, 104),     # weekly: two years
    (800, 14, 7, 20),       # daily: two weeks are fewer than the default
    (800, 14, 365, 20),     # a year of daily rows is not put in the window
    (200, 30, 1, 30),       # at least the steps forecast
    (49, 12, 12, 12),       # a short series: the rows hold the window and its targets twice
    (10, 1, 1, 4),
    (5, 1, 1, 2),           # never below two rows
])
def test_the_window_is_two_seasons_at_least_the_default_and_the_steps_capped_by_the_rows(n_rows, k, season, L):
    got, how = window_length(n_rows, 1, k, season)
    assert got == L and isinstance(how, str) and how
    assert ("capped" in how) == (got < max(20, k, 2 * season if 1 < season <= 52 else 0))


def weekly(n=260, seed=1):
    t = np.arange(n)
    y = 100 + 20 * np.sin(2 * np.pi * t / 52) + np.random.default_rng(seed).normal(0, 3, n)
    return pd.Series(y, index=pd.date_range("2015-01-04", periods=n, freq="W"))


def test_a_weekly_series_given_only_the_horizon_keeps_its_yearly_season():
    """With the fixed window of 20 rows the smoother could not model a 52-week season (a season longer than the
    window is dropped): its forecasts followed the sine's slope below the series' range."""
    s = weekly()
    m = LSTMModel(QUICK, output_steps=13).fit(s[:-13], verbose=False)
    assert m.config["sequence_length"] == 104 and m.info["season"] == 52
    assert m.info["sequence_length_how"] == "two seasons of 52 rows"
    assert m.info["baseline_ets"]["params"][0]["season"] == 1.0
    f = np.asarray(m.forecast(s[:-13])).ravel()
    naive = np.abs(s.values[-13:] - s.values[-14]).mean()
    assert np.abs(f - s.values[-13:]).mean() < 0.5 * naive
    fixed = LSTMModel(QUICK, output_steps=13, sequence_length=20).fit(s[:-13], verbose=False)
    assert fixed.info["baseline_ets"]["params"][0]["season"] == 0.0 and "sequence_length_how" not in fixed.info


def test_the_choice_reads_the_training_rows_only():
    """The season is found on the rows the training targets touch: a poisoned validation tail changes nothing."""
    y = weekly().values
    c = LSTMModel(QUICK, output_steps=13).config
    chosen, how = with_window(c, y[:, None], y[:, None], None, 0.1)
    n = len(y)
    n_val = round(0.1 * (n - 20 - 1 - 13 + 2))                 # the 20-row window's split: its validation windows
    train_rows = n - 13 - n_val + 1                            # the rows its training targets touch
    for tail in (np.zeros(n - train_rows), 1e6 * np.random.default_rng(0).standard_normal(n - train_rows)):
        yp = np.r_[y[:train_rows], tail]
        assert with_window(c, yp[:, None], yp[:, None], None, 0.1) == (chosen, how)
    assert chosen["sequence_length"] == 104                    # inferred from the autocorrelation: no dates here


def test_a_chosen_window_is_chosen_again_by_the_next_fit_a_given_one_is_kept():
    s = weekly()
    m = LSTMModel(QUICK, output_steps=13).fit(s, verbose=False)
    assert m.config["sequence_length"] == 104
    m.fit(s[:60], verbose=False)                               # too few rows for 104: chosen again
    assert m.config["sequence_length"] < 104 and "capped" in m.info["sequence_length_how"]
    m.fit(s, verbose=False, sequence_length=30)                 # a fit's setting is the model's from then on
    assert m.config["sequence_length"] == 30 and "sequence_length_how" not in m.info
    m.fit(s, verbose=False)
    assert m.config["sequence_length"] == 30
    assert LSTMModel(QUICK, output_steps=13, sequence_length=16).fit(s, verbose=False).config["sequence_length"] == 16


def test_a_capped_window_is_printed(capsys):
    LSTMModel(QUICK, output_steps=12).fit(weekly(60).values, verbose=True)
    assert "sequence_length" in capsys.readouterr().out


def test_files_keep_the_window_and_refuse_a_contradiction(tmp_path):
    s = weekly()
    m = LSTMModel(QUICK, output_steps=13).fit(s, verbose=False)
    p = m.save(tmp_path / "m.minilstm")
    back = LSTMModel.from_file(p)
    assert back.config["sequence_length"] == 104
    np.testing.assert_array_equal(np.asarray(back.forecast(s)), np.asarray(m.forecast(s)))
    bad = rewrite_metadata(p, lambda meta: meta["info"].update(sequence_length_chosen=20), tmp_path / "bad.minilstm")
    with pytest.raises(ModelFileError, match="sequence_length"):
        LSTMModel.from_file(bad)
    none = rewrite_metadata(p, lambda meta: meta["config"].update(sequence_length=None), tmp_path / "none.minilstm")
    with pytest.raises(ModelFileError, match="sequence_length"):
        LSTMModel.from_file(none)


def test_backtests_and_ensembles_choose_one_window_for_every_fit():
    s = weekly()                                               # the season from the dates (220 rows are too few
    y = s.values                                               # for the autocorrelation to find a 52-row sine)
    bt = backtest({**QUICK, "output_steps": 13}, s, start=220, step=20, steps=13, refit=True, verbose=False)
    assert bt.settings["config"]["sequence_length"] == 220 // 2 - 13     # capped by the first fold's 220 rows
    assert backtest({**QUICK, "output_steps": 13}, y, start=220, step=20, steps=13, refit=True,
                    verbose=False).settings["config"]["sequence_length"] == 20
    ens = LSTMEnsemble({**QUICK, "output_steps": 13}, n_members=2).fit(s[:240], verbose=False)
    assert ens.config["sequence_length"] == 104
    assert {m.config["sequence_length"] for m in ens.members} == {104}
    assert ens.configs[0]["sequence_length"] is None             # the next fit chooses again
    many = LSTMModel(QUICK, output_steps=4).fit([y[:150], y[100:]], verbose=False)
    assert many.config["sequence_length"] == 20                  # the series' seasons may differ: the default


def test_a_loaded_or_unpickled_ensemble_chooses_again_as_a_fitted_one_does(tmp_path):
    import pickle
    s = weekly()
    ens = LSTMEnsemble({**QUICK, "output_steps": 13}, n_members=2).fit(s[:240], verbose=False)
    other = weekly(160, seed=3).values                          # no dates, too short for the 52-row sine: 20
    for e in (LSTMEnsemble.load(ens.save(tmp_path / "e.minilstm")), pickle.loads(pickle.dumps(ens)), ens):
        assert e.config["sequence_length"] == 104
        assert e.fit(other, verbose=False).config["sequence_length"] == 20
    given = LSTMEnsemble({**QUICK, "output_steps": 13, "sequence_length": 30}, n_members=2).fit(s[:240],
                                                                                                verbose=False)
    back = LSTMEnsemble.load(given.save(tmp_path / "g.minilstm"))
    assert back.fit(other, verbose=False).config["sequence_length"] == 30


def test_a_sweep_scores_the_window_its_best_model_gets():
    from minilstm.forecast.tuning import sweep
    s = weekly()
    for cv in (0.2, {"start": 200, "step": 20}):
        r = sweep({"hidden_size": [4]}, s, config={**QUICK, "output_steps": 13}, cv=cv, refit=True, verbose=False)
        assert r.trials[0]["status"] == "ok", r.trials[0]["error"]
        assert r.best_model.config["sequence_length"] == 104           # the season from the dates, as in the trials
    given = sweep({"sequence_length": [91]}, s, config={**QUICK, "output_steps": 13}, verbose=False)
    chosen = sweep({"hidden_size": [4]}, s, config={**QUICK, "output_steps": 13}, verbose=False)
    assert chosen.trials[0]["score"] == given.trials[0]["score"]      # 208 rows before the holdout: 208 // 2 - 13


def test_a_short_seasonal_series_keeps_a_window_of_one_season_for_the_smoother():
    """Capped by the rows below one season, the window would make the smoother drop its season: it is raised to one
    season where that still leaves a training window (36 to 45 months forecast 12 ahead)."""
    t = np.arange(60)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, 60)
    s = pd.Series(y, index=pd.date_range("2000-01-01", periods=60, freq="MS"))
    for n in (36, 40, 45):
        m = LSTMModel(QUICK, output_steps=12).fit(s[:n], verbose=False)
        assert m.config["sequence_length"] == 12 and "raised to one season" in m.info["sequence_length_how"]
        assert m.info["baseline_ets"]["params"][0]["season"] == 1.0
    assert LSTMModel(QUICK, output_steps=12).fit(s[:60], verbose=False).config["sequence_length"] == 60 // 2 - 12


def test_many_series_too_short_for_the_default_window_say_how_to_fit_them():
    from minilstm.errors import DataError
    with pytest.raises(DataError, match="no series has enough rows .*sequence_length=20.*shorter sequence_length"):
        LSTMModel(QUICK).fit([np.arange(15.0), np.arange(15.0) + 1], verbose=False)
    m = LSTMModel(QUICK, sequence_length=5).fit([np.arange(15.0), np.arange(15.0) + 1], verbose=False)
    assert m.is_fitted
