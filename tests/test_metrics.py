"""Baselines and the evaluation report: the seasonal-naive season, zero/mean baselines, the table."""
import numpy as np
import pandas as pd
import pytest

from minilstm import LSTMModel, datasets
from minilstm.forecast import metrics as M
from minilstm.forecast import report as R
from minilstm.forecast import seasons as S

TINY = {"hidden_size": 4, "num_layers": 1, "epochs": 1, "sequence_length": 6, "batch_size": 64, "device": "cpu"}


def ar1(n, phi, seed):
    rng = np.random.default_rng(seed)
    z = np.zeros(n)
    for t in range(1, n):
        z[t] = phi * z[t - 1] + rng.standard_normal()
    return z


# ---- inference ---------------------------------------------------------------------------------
def test_inference_finds_the_daily_cycle_of_hourly_demand_not_the_weekly_one():
    y = datasets.load_electricity().column("Demand")
    assert S.infer_season(y[:2 * 8760]) == 24
    assert S.infer_season(y[:600]) == 24                    # 25 days are enough


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inference_finds_a_weekly_pattern_in_daily_data(seed):
    rng = np.random.default_rng(seed)
    y = np.tile([1.0, 2, 3, 2, 5, 0, -1], 80) + rng.standard_normal(560) + np.linspace(0, 20, 560)
    assert S.infer_season(y) == 7


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smooth_series_without_a_cycle_give_no_season(seed):
    walk = np.cumsum(np.random.default_rng(seed).standard_normal(1000))
    assert S.infer_season(walk) is None                      # the old rule said 2 for every smooth series
    assert S.infer_season(ar1(800, 0.95, seed)) is None
    assert S.choose_season(walk) == (1, "persistence: no seasonal peak found in the autocorrelation")


@pytest.mark.parametrize("period", [12, 50, 120])
def test_a_sine_with_a_long_period_gives_that_period_not_2(period):
    t = np.arange(8 * period)
    y = np.sin(2 * np.pi * t / period) + 0.05 * np.random.default_rng(period).standard_normal(len(t))
    s = S.infer_season(y)
    assert s is not None and abs(s - period) <= max(1, period // 50), s


def test_three_seasons_of_data_are_enough_the_last_lag_searched_is_tested():
    profile = np.array([5, 3, 8, -2, -6, -10, -4, 0, 2, 6, -1, -1.0])
    noise = np.random.default_rng(0).normal(0, 0.5, 42)
    for n in (36, 37, 38, 42):                   # N // 3 = 12: the season is the last lag searched
        assert S.infer_season(100 + np.resize(profile, n)) == 12
        assert S.infer_season(100 + np.resize(profile, n) + noise[:n]) == 12
    assert S.infer_season(100 + np.resize(profile, 35)) is None       # fewer than three seasons: not searched


def test_inference_refuses_short_or_constant_series_and_ignores_scale():
    assert S.infer_season(np.arange(8.0)) is None
    assert S.infer_season(np.full(100, 3.0)) is None
    assert np.isnan(S.autocorrelation(np.zeros(5), 2)).all()
    week = np.tile([1.0, 2, 3, 2, 5, 0, -1], 50)
    with np.errstate(all="raise"):                               # no overflow near the top of the float range
        assert S.infer_season(week * 1e307) == S.infer_season(week * 1e-300) == S.infer_season(week) == 7


# ---- choosing the season -----------------------------------------------------------------------
@pytest.mark.parametrize("freq,season", [("h", 24), ("30min", 48), ("15min", 96), ("D", 7), ("B", 5),
                                         ("W", 52), ("MS", 12), ("ME", 12), ("QS", 4)])
def test_a_datetime_index_implies_the_season(freq, season):
    idx = pd.date_range("2020-01-01", periods=60, freq=freq)
    s, how = S.choose_season(np.random.default_rng(0).standard_normal(60), index=idx)
    assert s == season and how.startswith("from the DatetimeIndex frequency (")


def test_the_index_of_a_pandas_target_and_the_datasets_season_are_used():
    ds = datasets.load_stocks()
    assert S.choose_season(ds.column("AAPL"), index=ds.index)[0] == 5       # trading days: business-daily
    w = datasets.load_weather().frame
    s, how = S.choose_season(w["temp_max"].to_numpy(), index=S.datetime_hint(w["temp_max"], w))
    assert s == 365 and "weather" in how                                     # the dataset's own, not daily's 7
    assert S.choose_season(w["temp_max"], index=w, season=7) == (7, "configured")


def test_too_few_rows_for_the_season_fall_back_with_a_reason():
    s, how = S.choose_season(np.zeros(214), season=365, n_rows=214)
    assert s == 1 and how.startswith("persistence: season 365") and "214" in how


def test_fallback_notes_are_printed_by_evaluate(capsys):
    walk = np.cumsum(np.random.default_rng(3).standard_normal(700)) + 100
    m = LSTMModel(TINY).fit(walk[:480], walk[:480], verbose=False)
    res = m.evaluate(walk[480:], walk[480:])
    out = capsys.readouterr().out
    assert res["season"] == 1 and "persistence: no seasonal peak found" in out
    res = m.evaluate(walk[486:], walk[486:], season=365)                      # 214 rows
    out = capsys.readouterr().out
    assert res["season"] == 1 and "persistence: season 365 (given to evaluate) needs more than 365 rows" in out
    assert res["baselines"]["seasonal_naive"] == res["baselines"]["persistence"]
    res = m.evaluate(walk[300:], walk[300:], season=100, verbose=False)
    assert any("have no value a season earlier" in n for n in res["notes"])
    assert capsys.readouterr().out == ""                                      # verbose=False: nothing


def test_fit_records_the_season_from_a_datetime_index():
    idx = pd.date_range("2021-03-01", periods=400, freq="h")
    y = pd.Series(np.random.default_rng(0).standard_normal(400), index=idx)
    m = LSTMModel(TINY).fit(y.to_frame("x"), y, verbose=False)
    assert (m.info["season"], m.info["season_how"]) == (24, "from the DatetimeIndex frequency (hourly: daily cycle)")
    res = m.evaluate(y.to_frame("x"), y, verbose=False)
    assert res["season"] == 24 and "hourly" in res["season_how"]


# ---- zero and mean baselines, returns ----------------------------------------------------------
def test_returns_get_zero_and_mean_baselines_and_a_note():
    prices = datasets.load_stocks().column("GOOG")
    r = np.diff(prices) / prices[:-1]
    assert M.looks_like_returns(r) and not M.looks_like_returns(prices)
    m = LSTMModel(TINY).fit(r[:900], r[:900], validation_split=0.0, verbose=False)
    res = m.evaluate(r[900:], r[900:], verbose=False)
    truth = r[900 + 6:]
    assert res["baselines"]["zero"]["mae"] == pytest.approx(np.mean(np.abs(truth)), rel=1e-12)
    mu = r[:900].mean()
    assert res["baselines"]["mean"]["mae"] == pytest.approx(np.mean(np.abs(truth - mu)), rel=1e-9)
    assert any("looks like returns" in n for n in res["notes"])
    # noise-like returns: persistence loses to zero by about sqrt(2) in RMSE
    ratio = res["baselines"]["persistence"]["rmse"] / res["baselines"]["zero"]["rmse"]
    assert 1.2 < ratio < 1.6


def test_every_model_gets_the_zero_and_mean_baselines():
    y = 50 + np.sin(np.arange(300) / 4.0)
    res = LSTMModel(TINY).fit(y[:200], y[:200], verbose=False).evaluate(y[200:], y[200:], verbose=False)
    assert set(res["baselines"]) == {"persistence", "seasonal_naive", "linear_ar", "mean", "zero"}
    assert not any("returns" in n for n in res["notes"]) and res["season"] == 25   # period 8 pi


# ---- the report --------------------------------------------------------------------------------
def test_the_report_is_a_dict_whose_repr_is_the_table(capsys):
    ds = datasets.load_electricity()
    X, y = ds.data[:1200], ds.column("Demand")[:1200]
    m = LSTMModel({**TINY, "sequence_length": 24}).fit(X[:900], y[:900], verbose=False)
    res = m.evaluate(X[900:], y[900:], units="MW")
    printed = capsys.readouterr().out
    assert isinstance(res, dict) and isinstance(res, R.EvaluationReport)
    assert repr(res) == str(res) == res.table() == printed.rstrip("\n")
    lines = repr(res).splitlines()
    assert "RMSE (MW)" in lines[1] and lines[2].startswith("LSTM (minilstm)")
    assert any(line.startswith("seasonal_naive (24)") for line in lines)
    assert "season 24, inferred from the autocorrelation" in repr(res)
    assert f"{res['rmse']:.3f}" in lines[2] and "{" not in repr(res)          # the table, not a dict dump
    html = res._repr_html_()
    assert html.startswith("<table") and "RMSE (MW)" in html and "season 24" in html
    assert res["baselines"]["persistence"]["rmse"] > 0 and res["units"] == "MW"


def test_the_table_keeps_its_columns_apart_whatever_the_numbers():
    """A value wider than its column (an R2 of -121) widens it instead of running into the next one; usual values
    keep the usual layout."""
    usual = {"rmse": 106.68, "mae": 75.693, "mape": 1.59, "smape": 1.61, "r2": 0.981, "mase": 0.38}
    wide = dict(usual, rmse=5.4e12, mae=5.4e12, smape=200.0, r2=-121.134, mase=1234567.0)
    for rows in ({"LSTM (minilstm)": usual}, {"LSTM (minilstm)": usual, "zero": wide}):
        lines = R.format_table(rows, "MW").splitlines()
        for line in lines[1:]:
            cells = line[26:].split()
            assert len(cells) == 6, line                       # six numbers, each apart from its neighbours
        assert len({len(line) for line in lines}) == 1         # aligned
    assert R.format_table({"LSTM (minilstm)": usual}, "MW").splitlines()[1] == (
        "LSTM (minilstm)                    106.680          75.693     1.59     1.61   0.981  0.380")


def test_units_come_from_pandas_attrs():
    f = datasets.load_electricity().frame.iloc[:900]
    assert M.units_of(f["Demand"]) == "MW" and M.units_of(f[["Temperature"]]) == "deg C"
    assert M.units_of(np.zeros(3)) == "" and M.units_of(f[["Demand", "Temperature"]]) == ""
    m = LSTMModel({**TINY, "sequence_length": 24}).fit(f[["Demand", "Temperature"]], f["Demand"], verbose=False)
    res = m.evaluate(f[["Demand", "Temperature"]], f["Demand"], verbose=False)
    assert res["units"] == "MW" and "RMSE (MW)" in res.table()
    assert res["season"] == 24 and "electricity" in res["season_how"]
