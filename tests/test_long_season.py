"""The 'ets' baseline's long season (the week of hourly data): the filter is the equations, the recursive least
squares are the least squares at every origin, it is inferred from a datetime index or the autocorrelation, it is
kept only where it earns its phases, no forecast reads a row at or after its origin, and files keep it (or not)."""
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import rewrite_metadata
from test_backtest import poisoned

from minilstm import LSTMModel
from minilstm.errors import ConfigError, ModelFileError
from minilstm.forecast import backtest
from minilstm.forecast.seasons import long_season
from minilstm.forecast.smoothing import ExponentialSmoothing, n_parameters
from minilstm.forecast.smoothing_filter import (
    as_states,
    expanding_forecasts,
    least_squares_states,
    prior_states,
    run,
)

QUICK = {"hidden_size": 4, "num_layers": 1, "epochs": 2, "batch_size": 32, "seed": 0, "learning_rate": 1e-9}


def weekly(n, m=24, seed=0, week=1.0, noise=0.3):
    """A day-and-week series (m rows a day, 7 m a week) like hourly demand: level, daily shape, a weekend dip."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 3 * np.sin(2 * np.pi * t / m) - week * 2 * ((t // m) % 7 >= 5) + noise * rng.standard_normal(n)


def hand_filter(x, p, m, m2, x0, d):
    """The equations one scalar at a time from the initial states x0 = (level, trend, m season, m2 long phases):
    the forecast d rows after each origin t >= 1."""
    lev, b, s, w = x0[0], x0[1], x0[2:2 + m].copy(), x0[2 + m:].copy()
    out = []
    for t in range(len(x) + 1):
        if t:
            out.append(lev + sum(p["phi"] ** i for i in range(1, d + 1)) * b + s[(t - 1 + d) % m] + w[(t - 1 + d) % m2])
        if t == len(x):
            return np.array(out)
        e = x[t] - (lev + p["phi"] * b + s[t % m] + w[t % m2])
        lev, b = lev + p["phi"] * b + p["alpha"] * e, p["phi"] * b + p["beta"] * e
        s[t % m] += p["gamma"] * e
        w[t % m2] += p.get("gamma_long", 0.0) * e                   # 0: fixed phases


P = {"alpha": 0.2, "beta": 0.05, "phi": 0.9, "gamma": 0.1, "trend": 1.0, "season": 1.0, "long": 1.0}


@pytest.mark.parametrize("gamma_long", [None, 0.0, 0.3, 1.0])
def test_the_filter_with_a_long_season_is_the_equations(gamma_long):
    x = weekly(200, m=4)
    p = dict(P) if gamma_long is None else dict(P, gamma_long=gamma_long)     # None: a file saved before it
    params = {k: np.array([v]) for k, v in p.items()}
    x0 = np.random.default_rng(1).standard_normal(2 + 4 + 28)
    init = tuple(v[None] for v in as_states(x0[None]))
    for d in (1, 3, 30):
        got = run(x[None], params, 4, 8, [d], origins=range(1, 201), init=init, m2=28)[0, :, 0, 0]
        np.testing.assert_allclose(got, hand_filter(x, p, 4, 28, x0, d), rtol=1e-12)


def test_expanding_forecasts_are_the_least_squares_at_every_origin():
    """Recursive least squares (Sherman-Morrison, an exact inverse every REFRESH rows) against a solve per origin,
    across refreshes; two candidates at once."""
    x = weekly(700, m=4, seed=2)
    params = {k: np.array([v, w]) for (k, v), w in zip(P.items(), (0.05, 0.0, 1.0, 0.3, 0.0, 1.0, 1.0))}
    params["gamma_long"] = np.array([0.0, 0.5])                   # fixed and moving phases
    ds = np.arange(1, 6)
    got = expanding_forecasts(x, params, 4, 8, ds, range(8, 701), m2=28)
    prior = prior_states(x, params, 4, 8, 28)
    for o in (8, 9, 255, 256, 257, 300, 513, 700):
        x0 = least_squares_states(x[:o], params, 4, prior, 28)
        want = run(x[None, :o], params, 4, 8, ds, init=tuple(v[None] for v in as_states(x0)), m2=28)[0]
        np.testing.assert_allclose(got[o - 8], want, rtol=1e-10, atol=1e-10)


def test_the_long_season_is_inferred_from_the_index_or_the_autocorrelation():
    y = weekly(24 * 7 * 6)
    hours = pd.date_range("2024-01-01", periods=len(y), freq="h")
    assert long_season(y, 24, hours)[0] == 168
    half_hours = pd.date_range("2024-01-01", periods=48 * 21, freq="30min")
    assert long_season(weekly(48 * 7 * 3, m=48), 48, half_hours)[0] == 336
    assert long_season(y, 24)[0] == 168                                      # no index: the autocorrelation
    assert long_season(weekly(24 * 7 * 6, week=0.0), 24)[0] == 1             # a daily cycle alone: none
    assert long_season(y, 24, hours, configured=1)[0] == 1                   # configured wins
    assert long_season(y, 12, hours)[0] in (1, 168)                           # not the daily season: data decide
    assert long_season(y[:300], 24, hours[:300])[0] == 1                      # fewer than two weeks of rows
    assert long_season(np.full(500, 3.0), 24)[0] == 1
    assert long_season(y, 1)[0] == 1


def smoother(y, m=24, m2=168, L=48):
    mu, sd = y.mean(), y.std()
    return ExponentialSmoothing(m, to_raw=[[sd, mu]], m2=m2).fit(((y - mu) / sd)[:, None], L, np.arange(1, 25))


def test_the_long_season_is_kept_where_it_earns_its_phases():
    y = weekly(24 * 7 * 8)
    kept = smoother(y)
    assert kept.params[0]["long"] == 1.0
    plain = smoother(weekly(24 * 7 * 8, week=0.0))                          # no weekly cycle: 144 phases for noise
    assert plain.params[0]["long"] == 0.0
    off = smoother(y, m2=1)
    assert off.params[0]["long"] == 0.0
    # and it forecasts the next week better than the smoother without it, from rows before each origin only
    full = weekly(24 * 7 * 10)
    z = (full - y.mean()) / y.std()
    err = {}
    for name, s in (("kept", kept), ("off", off)):
        f = s.row_forecasts(z[:, None], 48, np.arange(1, 25))[:, :, 0]          # window j: origin j + 48
        origins = np.arange(len(y), len(full) - 24, 24)
        truth = np.stack([z[o:o + 24] for o in origins])
        err[name] = np.abs(f[origins - 48] - truth).mean()
    assert err["kept"] < 0.8 * err["off"]


def drifting_week(n, m=24, seed=3):
    """A daily cycle and a weekly one whose shape changes from week to week (a random walk per weekday), as
    demand's does over a season: last week is a better guide than the average week."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    day = t // m
    walk = np.cumsum(rng.standard_normal((n // (7 * m) + 1, 7)), axis=0)      # each weekday's own walk
    return 20 + 3 * np.sin(2 * np.pi * t / m) + 1.5 * walk[day // 7, day % 7] + 0.1 * rng.standard_normal(n)


def fit_and_next_weeks_error(full):
    """The smoother fitted on the first ten weeks of the hourly series full (thirteen weeks), and the mean absolute
    error of its day-ahead forecasts over the three weeks after them (states from rows before each origin only),
    with its long season as chosen and with its phases fixed."""
    y = full[:24 * 7 * 10]
    s = smoother(y)
    z = (full - y.mean()) / y.std()
    origins = np.arange(len(y), len(full) - 24, 24)
    truth = np.stack([z[o:o + 24] for o in origins])
    fixed = ExponentialSmoothing(24, [dict(s.params[0], gamma_long=0.0)], s.to_raw, m2=168)
    errors = []
    for model in (s, fixed):
        f = model.row_forecasts(z[:, None], 48, np.arange(1, 25))[:, :, 0]
        errors.append(np.abs(f[origins - 48] - truth).mean())
    return s.params[0], errors


def test_the_long_season_moves_where_that_forecasts_clearly_better():
    """A week whose shape wanders gets moving phases and forecasts the weeks after much better than with fixed
    ones; on a steady week whatever is chosen forecasts them as well as fixed phases."""
    p, (chosen, fixed) = fit_and_next_weeks_error(drifting_week(24 * 7 * 13))
    assert p["long"] == 1.0 and p["gamma_long"] > 0 and chosen < 0.6 * fixed
    p, (chosen, fixed) = fit_and_next_weeks_error(weekly(24 * 7 * 13))
    assert p["long"] == 1.0 and p["gamma_long"] < 0.5 and chosen < 1.02 * fixed


def test_too_few_origins_keep_the_long_season_fixed():
    """With fewer than MIN_ORIGINS origins after two long seasons there is nothing to compare: fixed phases."""
    from minilstm.forecast.smoothing import MIN_ORIGINS
    es = ExponentialSmoothing(24, m2=168)
    fixed = {"alpha": 0.02, "beta": 0.0, "phi": 1.0, "gamma": 0.0, "trend": 0.0, "season": 1.0, "long": 1.0}
    z = drifting_week(24 * 7 * 10)
    for n in (2 * 168, 2 * 168 + MIN_ORIGINS - 1):                  # no origin with a scored row, or too few
        short = es.moving_long_season(fixed, z[:n], 24, 48, np.arange(1, 25))
        assert short == dict(fixed, gamma_long=0.0)
    far = es.moving_long_season(fixed, z[:2 * 168 + 20], 24, 48, np.arange(30, 31))      # a horizon past the rows
    assert far == dict(fixed, gamma_long=0.0)
    assert es.moving_long_season(fixed, z, 24, 48, np.arange(1, 25))["gamma_long"] > 0        # enough: it moves


def test_too_few_rows_to_judge_the_long_season_keep_it_out():
    """With fewer scored rows than the long candidates have parameters their AICc is undefined: they are not tried
    (scored by the likelihood alone, the long season won on a daily cycle with no week)."""
    for n in (336, 420, 500):
        assert smoother(weekly(n, week=0.0), L=168).params[0]["long"] == 0.0


def test_the_long_season_counts_the_phases_the_season_does_not_hold():
    base = {k: np.array([v]) for k, v in P.items()}
    no_season = dict(base, season=np.array([0.0]), gamma=np.array([0.0]))
    k = n_parameters(base, 24, 168) - n_parameters(dict(base, long=np.array([0.0])), 24, 168)
    assert k == 168 - 24                                                      # the daily profile is the season's
    assert n_parameters(no_season, 24, 168) - n_parameters(dict(no_season, long=np.array([0.0])), 24, 168) == 167
    assert n_parameters(base, 4, 6) - n_parameters(dict(base, long=np.array([0.0])), 4, 6) == 6 - 2     # gcd 2


def hourly_model(**settings):
    y = pd.Series(weekly(24 * 7 * 8), index=pd.date_range("2024-01-01", periods=24 * 7 * 8, freq="h"))
    cfg = {**QUICK, "sequence_length": 48, "output_steps": 24, **settings}
    return y, LSTMModel(cfg).fit(y, verbose=False)


@pytest.fixture(scope="module")
def hourly():
    return hourly_model()


def test_a_model_tries_the_week_of_hourly_data_and_files_keep_it(hourly, tmp_path):
    y, m = hourly
    ets = m.info["baseline_ets"]
    assert ets["long_season"] == 168 and ets["params"][0]["long"] == 1.0
    v = y.to_numpy()
    back = LSTMModel.load(m.save(tmp_path / "m.minilstm"))
    np.testing.assert_array_equal(back.predict(v), m.predict(v))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(m)).predict(v), m.predict(v))
    _, none = hourly_model(long_season=1)
    assert none.info["baseline_ets"]["long_season"] == 1 and none.info["baseline_ets"]["params"][0]["long"] == 0.0
    _, mae = hourly_model(baseline_criterion="mae")                # never tries it: the file does not claim one
    assert mae.info["baseline_ets"]["long_season"] == 1 and mae.info["baseline_ets"]["params"][0]["long"] == 0.0
    # a file saved before the long season existed (no keys): loads, and forecasts as a smoother without one
    old = LSTMModel.load(rewrite_metadata(none.save(tmp_path / "none.minilstm"), strip_long, tmp_path / "old.minilstm"))
    np.testing.assert_array_equal(old.predict(v), none.predict(v))


def strip_long(meta):
    ets = meta["info"]["baseline_ets"]
    ets.pop("long_season")
    for p in ets["params"]:
        p.pop("long")


def test_a_model_with_moving_phases_keeps_them_in_its_file(tmp_path):
    """A model whose week wanders: the file holds gamma_long and the loaded model forecasts bitwise the same; a file
    saved before gamma_long existed (no key) forecasts with fixed phases."""
    v = drifting_week(24 * 7 * 10)
    y = pd.Series(v, index=pd.date_range("2024-01-01", periods=len(v), freq="h"))
    m = LSTMModel({**QUICK, "sequence_length": 48, "output_steps": 24}).fit(y, verbose=False)
    p = m.info["baseline_ets"]["params"][0]
    assert p["long"] == 1.0 and p["gamma_long"] > 0
    path = m.save(tmp_path / "m.minilstm")
    np.testing.assert_array_equal(LSTMModel.load(path).predict(v), m.predict(v))

    def strip_gamma_long(meta):
        meta["info"]["baseline_ets"]["params"][0].pop("gamma_long")

    def fix_phases(meta):
        meta["info"]["baseline_ets"]["params"][0]["gamma_long"] = 0.0
    old = LSTMModel.load(rewrite_metadata(path, strip_gamma_long, tmp_path / "old.minilstm"))
    fixed = LSTMModel.load(rewrite_metadata(path, fix_phases, tmp_path / "fixed.minilstm"))
    np.testing.assert_array_equal(old.predict(v), fixed.predict(v))
    assert not np.array_equal(old.predict(v), m.predict(v))


@pytest.mark.parametrize("bad", [{"long_season": 10 ** 6}, {"long_season": 0}, {"long_season": 2.5}, {"long": 2.0},
                                 {"long": float("nan")}, {"long": True}, {"gamma_long": 1.5}, {"gamma_long": -0.1},
                                 {"gamma_long": "0.5"}, {"gamma_long": float("inf")}])
def test_a_tampered_long_season_in_a_file_is_refused(bad, hourly, tmp_path):
    _, m = hourly

    def tamper(meta):
        ets = meta["info"]["baseline_ets"]
        for k, v in bad.items():
            (ets if k == "long_season" else ets["params"][0])[k] = v
    with pytest.raises(ModelFileError, match="baseline_ets"):
        LSTMModel.load(rewrite_metadata(m.save(tmp_path / "m.minilstm"), tamper))


@pytest.mark.parametrize("value", [0, 401, 2.5, "week", True])
def test_a_bad_long_season_setting_is_refused(value):
    with pytest.raises(ConfigError, match="long_season"):
        LSTMModel({"long_season": value})
    with pytest.raises(ConfigError, match="only by the 'aicc' criterion"):     # 'mae' cannot judge its phases
        LSTMModel({"long_season": 168, "baseline_criterion": "mae"})
    LSTMModel({"long_season": 1, "baseline_criterion": "mae"})


@pytest.mark.parametrize("value, season", [(2, 12), (6, 12), (12, 12), (12, None)])
def test_a_long_season_no_longer_than_the_season_is_refused_at_fit(value, season):
    """A cycle of at most m rows adds no phase the season lacks, and its criterion would count it as free: refused
    when the model is fitted (where an inferred season is known), before any training."""
    t = np.arange(120)
    y = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    cfg = dict(QUICK, sequence_length=12, output_steps=6, long_season=value, season=season)
    with pytest.raises(ConfigError, match=r"not longer than the season \(12\)"):
        LSTMModel(cfg).fit(y, verbose=False)
    LSTMModel(dict(cfg, long_season=24)).fit(y, verbose=False)        # a multiple above it is tried


@pytest.mark.parametrize("moving", [False, True])
def test_no_fold_sees_a_row_at_or_after_its_origin_with_a_long_season(moving):
    """The backtest poison check of test_backtest, on a series whose long season the smoother keeps, with fixed
    phases and with moving ones (chosen from forecasts over the training rows: the fold's rows only)."""
    y = drifting_week(4 * 7 * 16, m=4) if moving else weekly(4 * 7 * 16, m=4, seed=3, noise=1.0)
    X = y[:, None]
    cfg = {**QUICK, "sequence_length": 8, "output_steps": 2, "season": 4, "long_season": 28}
    p = LSTMModel(cfg).fit(y[:300], verbose=False).info["baseline_ets"]["params"][0]
    assert p["long"] == 1.0 and (p["gamma_long"] > 0) == moving                            # it runs as meant
    settings = dict(start=300, step=40, refit=True, window="expanding", steps=2, verbose=False)
    clean = backtest(cfg, X, y, **settings)
    assert len(clean.origins) >= 4
    for o in clean.origins[1:]:
        r = backtest(cfg, *poisoned(X, y, o), **settings)
        seen = clean.origins <= o
        np.testing.assert_allclose(r.forecasts[seen], clean.forecasts[seen], rtol=1e-6)
        if o < clean.origins[-1]:
            assert not np.allclose(r.forecasts[~seen], clean.forecasts[~seen])
