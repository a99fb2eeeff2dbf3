"""The 'ets' baseline (forecast.smoothing): the filter is the module's equations, it reads no row at or after
an origin, it is chosen on training rows only, the default picks it for a series forecast from its own past
alone, the network is kept only when it validates clearly better, and saved/pickled models keep it."""
import pickle
import warnings

import numpy as np
import pytest
from conftest import rewrite_metadata

from minilstm import LSTMModel
from minilstm.errors import ConfigError, ModelFileError
from minilstm.forecast.smoothing import FIRST_WINDOW, MAE, ExponentialSmoothing, criterion, grid, n_parameters
from minilstm.forecast.smoothing_filter import (
    as_states,
    fitted_run,
    initial_states,
    least_squares_states,
    prior_states,
    run,
)

SMALL = {"hidden_size": 8, "num_layers": 1, "sequence_length": 24, "epochs": 3, "batch_size": 16, "seed": 1}


def seasonal(n=240, seed=0, trend=0.05, multiplicative=False):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 20 + trend * t
    season = np.sin(2 * np.pi * t / 12)
    y = level * (1 + 0.3 * season) if multiplicative else level + 3 * season
    return y + 0.3 * rng.standard_normal(n)


def hand_filter(x, p, m, L, d):
    """The module docstring's equations, one scalar at a time: the forecast d rows after each origin t >= L."""
    lev0, b0, s0 = initial_states(x[None], L, m, np.array([p["trend"]]), np.array([p["season"]]))
    lev, b, s = lev0[0, 0], b0[0, 0], s0[0, 0].copy()
    mm = len(s)
    out = {}
    for t in range(len(x) + 1):
        if t >= L:
            damp = sum(p["phi"] ** i for i in range(1, d + 1))
            out[t] = lev + damp * b + s[(t - 1 + d) % mm]
        if t == len(x):
            break
        e = x[t] - (lev + p["phi"] * b + s[t % mm])
        lev, b = lev + p["phi"] * b + p["alpha"] * e, p["phi"] * b + p["beta"] * e
        s[t % mm] += p["gamma"] * e
    return np.array([out[t] for t in sorted(out)])


@pytest.mark.parametrize("p", [
    {"alpha": 0.3, "beta": 0.1, "phi": 0.9, "gamma": 0.2, "trend": 1.0, "season": 1.0},
    {"alpha": 1.0, "beta": 0.0, "phi": 1.0, "gamma": 0.0, "trend": 0.0, "season": 0.0},     # the naive forecast
])
def test_the_filter_is_the_equations(p):
    x = seasonal(80)
    params = {k: np.array([v]) for k, v in p.items()}
    for d in (1, 5, 13):
        got = run(x[None], params, 12, 24, [d], origins=range(24, 81))[0, :, 0, 0]
        np.testing.assert_allclose(got, hand_filter(x, p, 12, 24, d), rtol=1e-12)
    if p["alpha"] == 1.0 and not p["trend"] and not p["season"]:
        np.testing.assert_allclose(got, x[23:80], rtol=1e-12)          # alpha 1, no trend or season: the last value


def test_no_forecast_reads_a_row_at_or_after_its_origin():
    x = seasonal(150)
    for log in (False, True):
        es = ExponentialSmoothing(12, to_raw=[[1.0, 0.0]]).fit(x[:100, None], 24, np.arange(1, 7))
        if log:
            es.params[0].update(log=1.0, floor=0.01)
        clean = es.row_forecasts(x[:, None], 24, np.arange(1, 7))[:, :, 0]       # origin t = window j + 24
        for o in (24, 30, 77, 120):
            poisoned = x.copy()
            poisoned[o:] = 1e3
            got = es.row_forecasts(poisoned[:, None], 24, np.arange(1, 7))[:, :, 0]
            np.testing.assert_array_equal(got[:o - 24 + 1], clean[:o - 24 + 1])   # every origin <= o: unchanged
            assert not np.allclose(got[o - 24 + 1:], clean[o - 24 + 1:])


def one_step_errors(x, p, m, init):
    """(N,): the one-step errors of the filter over x (N,) from the initial states init (d,), by ``run``."""
    lev, b, s = as_states(init[None])
    f = run(x[None], p, m, len(x), [1], origins=range(len(x)), init=(lev[None], b[None], s[None]))
    return x - f[0, :, 0, 0]


@pytest.mark.parametrize("p, m", [
    ({"alpha": 0.1, "beta": 0.05, "phi": 0.9, "gamma": 0.1, "trend": 1.0, "season": 1.0}, 12),
    ({"alpha": 0.3, "beta": 0.0, "phi": 1.0, "gamma": 0.0, "trend": 0.0, "season": 0.0}, 1),
])
def test_least_squares_states_solve_the_least_squares_problem(p, m):
    """Against a brute-force solution: the errors from each unit initial state, stacked with the prior's rows."""
    x = seasonal(90, trend=0.2)
    params = {k: np.array([v]) for k, v in p.items()}
    d = 2 + m
    prior = prior_states(x, params, m, 24)[0]
    e0 = one_step_errors(x, params, m, np.zeros(d))
    R = np.stack([e0 - one_step_errors(x, params, m, np.eye(d)[j]) for j in range(d)], axis=1)   # e = e0 - R x0
    used = [True, bool(p["trend"])] + [bool(p["season"])] * m                 # unused states: held at the prior
    want = prior.copy()
    sol = np.linalg.lstsq(np.r_[R[:, used], np.eye(d)[used][:, used]], np.r_[e0, prior[used]], rcond=None)[0]
    want[used] = sol
    got = least_squares_states(x, params, m, prior[None])[0]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)
    sse = (one_step_errors(x, params, m, got) ** 2).sum()
    assert sse < (one_step_errors(x, params, m, prior) ** 2).sum()          # better than the first window's


def chosen_index(cand, params):
    return int(np.flatnonzero(np.all([cand[k] == v for k, v in params.items() if k in cand], axis=0))[0])


def test_fit_chooses_on_training_rows_the_forecast_it_serves():
    x = seasonal(200)
    ds = np.arange(1, 13)
    es = ExponentialSmoothing(12, to_raw=[None]).fit(x[:150, None], 24, ds)
    cand = grid(True)
    mse = fitted_run(x[:150], cand, 12, 24, ds, origins=range(24, 150), score_to=150)    # 1..12 steps, pooled
    x0 = least_squares_states(x[:150], cand, 12, prior_states(x[:150], cand, 12, 24))   # fitted initial states
    init = tuple(v[None] for v in as_states(x0))
    f = run(x[None, :150], cand, 12, 24, ds, origins=range(24, 150), init=init)[0]      # (origins, P, 12)
    rows = np.arange(24, 150)[:, None] - 1 + ds                                           # each forecast's target row
    ok = rows < 150
    err = (f - x[np.minimum(rows, 149)][:, None, :]) ** 2
    finite = np.isfinite(mse)
    np.testing.assert_allclose(mse[finite], err.transpose(1, 0, 2)[:, ok].mean(axis=1)[finite], rtol=1e-9)
    aicc = criterion(mse, 150 - 24, n_parameters(cand, 12))                  # the 126 rows the forecasts score
    assert chosen_index(cand, es.params[0]) == int(np.argmin(aicc))                       # the lowest AICc
    assert es.params[0]["season"] == 1.0 and es.params[0]["log"] == 0.0
    # it forecasts the test rows better than the seasonal naive forecast does
    f = es.row_forecasts(x[:188, None], 24, ds)[150 - 24::12, :, 0]       # origins 150, 162, 174, 186
    truth = np.stack([x[o:o + 12] for o in range(150, 188, 12)])
    naive = np.stack([x[o - 12:o] for o in range(150, 188, 12)])
    assert np.abs(f - truth).mean() < 0.8 * np.abs(naive - truth).mean()


def test_a_trend_or_a_season_must_earn_its_parameters():
    cand = grid(True)
    k = n_parameters(cand, 12)
    plain = chosen_index(cand, {"alpha": 0.3, "beta": 0.0, "phi": 1.0, "gamma": 0.0, "trend": 0.0, "season": 0.0})
    damped = chosen_index(cand, {"alpha": 0.3, "beta": 0.1, "phi": 0.9, "gamma": 0.1, "trend": 1.0, "season": 1.0})
    assert k[plain] == 2 and k[damped] == 4 + 2 + 11                  # alpha + level; alpha beta phi gamma + 13 states
    mse = np.ones(len(k))
    aicc = criterion(mse, 60, k)
    assert aicc[damped] > aicc[plain]                                  # equal errors: the simpler wins
    mse[damped] = 0.4
    assert criterion(mse, 60, k)[damped] < aicc[plain]                 # 60% less error pays for 15 parameters
    for seed in range(1, 6):                                           # 4 years of noise: no season, no trend
        noise = 5 + np.random.default_rng(seed).standard_normal((48, 1))
        es = ExponentialSmoothing(12, to_raw=[None]).fit(noise, 24, np.arange(1, 7))
        assert es.params[0]["trend"] == 0.0 and es.params[0]["season"] == 0.0
    line = ExponentialSmoothing(12, to_raw=[None]).fit(np.arange(120.0)[:, None] * 0.5, 24, np.arange(1, 7))
    assert line.params[0]["trend"] == 1.0 and line.params[0]["season"] == 0.0        # an exact line: a trend
    assert criterion(np.array([0.0, np.inf]), 60, np.array([2, 2]), floor=1e-12)[1] == np.inf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_choice_does_not_depend_on_the_units(seed):
    """The log form's likelihood is taken in the series' own units (its Jacobian): a series in grams or in
    kilograms, or z-scored by a normalizer, gets the same parameters, in logs or not."""
    x = seasonal(150, seed=seed, trend=0.2, multiplicative=seed != 1)[:, None]
    ds = np.arange(1, 7)
    ref = ExponentialSmoothing(12, to_raw=[[1.0, 0.0]]).fit(x, 24, ds).params
    assert ref[0]["log"] == float(seed != 1)                           # a growing swing in logs, a fixed one not
    mu, sd = float(x.mean()), float(x.std())
    for a, c in ((1000.0, 0.0), (sd, mu)):                             # raw = a x' + c
        got = ExponentialSmoothing(12, to_raw=[[a, c]]).fit((x - c) / a, 24, ds).params
        assert got[0] == pytest.approx(ref[0], rel=1e-9)


def test_baseline_criterion_mae_chooses_by_the_mean_absolute_error_as_before(tmp_path):
    """config['baseline_criterion'] = 'mae': the smoother of models fitted before AICc (no penalty, the log form's
    forecasts scored back in the series' units); files saved before the option load with it."""
    x = seasonal(200)
    ds = np.arange(1, 13)
    es = ExponentialSmoothing(12, to_raw=[None], criterion=MAE).fit(x[:150, None], 24, ds)
    cand = grid(True)
    mae = fitted_run(x[:150], cand, 12, 24, ds, origins=range(24, 150), score_to=150, absolute=True)
    assert mae[chosen_index(cand, es.params[0])] == mae.min()
    mse = fitted_run(x[:150], cand, 12, 24, ds, origins=range(24, 150), score_to=150)
    assert not np.allclose(mae, np.sqrt(mse))                           # a different score, not a rescaled one
    y = seasonal(200, seed=4, trend=0.3)
    cfg = {**SMALL, "output_steps": 6, "epochs": 1, "learning_rate": 1e-9}
    by = {c: LSTMModel({**cfg, "baseline_criterion": c}).fit(y, verbose=False) for c in ("aicc", "mae")}
    assert by["aicc"].config["baseline_criterion"] == "aicc" == LSTMModel(SMALL).config["baseline_criterion"]
    rows = by["mae"]._nx(y[:, None])
    ets = by["mae"].info["baseline_ets"]
    assert ets["params"] == ExponentialSmoothing(12, to_raw=ets["to_raw"], criterion=MAE).fit(rows, 24, ds[:6]).params
    old = rewrite_metadata(by["aicc"].save(tmp_path / "m.minilstm"),
                           lambda meta: meta["config"].pop("baseline_criterion"))
    loaded = LSTMModel.load(old)
    assert loaded.config["baseline_criterion"] == "mae"               # a file from before: chosen as it was
    np.testing.assert_array_equal(loaded.predict(y), by["aicc"].predict(y))    # and forecasts what it saved
    with pytest.raises(ConfigError, match="baseline_criterion.*'aicc'.*'mae'"):
        LSTMModel({**SMALL, "baseline_criterion": "aic"})


def test_a_trend_with_constant_noise_stays_additive():
    """The log form's likelihood and Jacobian cover the rows the forecasts score, not the first window too
    (over every row, a rising series got a spurious bonus for its logs and forecast 10-25% worse)."""
    for seed in range(5):
        y = 10 + 0.75 * np.arange(120) + 2 * np.random.default_rng(seed).standard_normal(120)
        mu, sd = y.mean(), y.std()
        es = ExponentialSmoothing(1, to_raw=[[sd, mu]]).fit(((y - mu) / sd)[:, None], 24, np.arange(1, 7))
        assert es.params[0]["log"] == 0.0 and es.params[0]["trend"] == 1.0


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_huge_and_tiny_series_choose_as_at_unit_scale(scale):
    x = seasonal(150, seed=3, trend=0.2)[:, None]
    ds = np.arange(1, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                   # no overflow or underflow warnings
        got = ExponentialSmoothing(12, to_raw=[[1.0, 0.0]]).fit(x * scale, 24, ds).params[0]
    want = ExponentialSmoothing(12, to_raw=[[1.0, 0.0]]).fit(x, 24, ds).params[0]
    assert {k: v for k, v in got.items() if k != "floor"} == {k: v for k, v in want.items() if k != "floor"}


def test_too_few_rows_for_any_penalty_choose_by_the_likelihood():
    x, ds = seasonal(27), np.arange(1, 4)                               # 3 rows scored after the first window
    cand = grid(True)
    assert np.isinf(criterion(np.ones(len(cand["alpha"])), 3, n_parameters(cand, 12))).all()   # AICc undefined
    es = ExponentialSmoothing(12, to_raw=[None]).fit(x[:, None], 24, ds)
    mse = fitted_run(x, cand, 12, 24, ds, origins=range(24, 27), score_to=27)
    assert chosen_index(cand, es.params[0]) == int(np.argmin(mse))       # the best fit, not the first candidate
    assert int(np.argmin(mse)) != 0


def test_a_season_longer_than_the_window_is_not_modelled():
    x = seasonal(200, trend=0.0)[:, None]
    es = ExponentialSmoothing(12, to_raw=[None]).fit(x, 8, np.arange(1, 4))            # window 8 < season 12
    assert es.params[0]["season"] == 0.0 and es.params[0]["gamma"] == 0.0


def test_a_growing_swing_is_smoothed_in_logs_and_a_sign_change_has_no_log():
    x = seasonal(240, trend=0.4, multiplicative=True)
    es = ExponentialSmoothing(12, to_raw=[[1.0, 0.0]]).fit(x[:200, None], 24, np.arange(1, 13))
    assert es.params[0]["log"] == 1.0 and es.params[0]["floor"] > 0
    neg = ExponentialSmoothing(12, to_raw=[[1.0, 0.0]]).fit(x[:200, None] - 50, 24, np.arange(1, 13))
    assert neg.params[0]["log"] == 0.0                                   # values <= 0: additive only
    with pytest.warns(UserWarning, match="floor"):                       # a value <= 0 later: read as the floor
        f = es.row_forecasts(np.r_[x[:100], -5.0, x[101:200]][:, None], 24, np.arange(1, 13))
    assert np.isfinite(f).all()


def univariate_model(**settings):
    y = seasonal(240)
    return y, LSTMModel({**SMALL, **settings}).fit(y[:200], verbose=False)


def test_the_default_smooths_a_series_forecast_from_its_own_past_only():
    y, m = univariate_model(output_steps=6)
    assert m.config["baseline"] == "ets_univariate" and m.info["baseline"] == "ets"
    X = np.c_[y, np.cos(np.arange(240))]                              # another input column: no baseline
    a = LSTMModel(SMALL).fit(X[:200], y[:200], verbose=False)
    b = LSTMModel({**SMALL, "baseline": None}).fit(X[:200], y[:200], verbose=False)
    assert a.info["baseline"] is None and a._transform() is None
    np.testing.assert_array_equal(a.predict(X), b.predict(X))          # exactly the model without a baseline


def test_a_network_that_does_not_validate_better_leaves_the_smoother_alone():
    y, m = univariate_model(output_steps=6, epochs=1, learning_rate=1e-9)
    assert m.info["network_kept"] is False
    assert all(not np.any(v) for v in m.head.params.values())
    wt = m._transform()
    rows = m._nx(y[:, None])
    expect = m._inv_y(wt.smoothed(np.zeros((240 - 24 + 1, 24, 1)), rows))          # (n, k, 1): the smoother's
    np.testing.assert_allclose(m.predict(y), expect[:, :, 0], rtol=1e-9)
    trained = univariate_model(output_steps=6, epochs=30, learning_rate=0.01)[1]
    assert trained.info["network_val_gain"] is not None
    assert trained.info["network_kept"] == (trained.info["network_val_gain"] > trained.info["network_val_se"])


def test_a_smoother_left_alone_is_chosen_again_on_every_row(tmp_path):
    y = seasonal(200, seed=0, trend=0.0)
    y[150:] += np.linspace(0, 12, 50)                                  # the tail turns: its rows change the choice
    set_aside = {**SMALL, "output_steps": 6, "epochs": 1, "learning_rate": 1e-9}
    m = LSTMModel(set_aside).fit(y, verbose=False)
    first = LSTMModel({**set_aside, "refit_baseline": False}).fit(y, verbose=False)
    assert m.info["network_kept"] is False and first.info["network_kept"] is False
    assert m.info["baseline_refit"] is True and "baseline_refit" not in first.info
    rows = m._nx(y[:, None])
    last = m.info["n_train_windows"] + 24 + 6 - 2                      # the last row a training target touches
    ets = m.info["baseline_ets"]
    on = {n: ExponentialSmoothing(12, to_raw=ets["to_raw"]).fit(r, 24, np.arange(1, 7)).params
          for n, r in (("every row", rows), ("training rows", rows[:last + 1]))}
    assert on["every row"] != on["training rows"]                      # else this test could not tell them apart
    assert ets["params"] == on["every row"] and first.info["baseline_ets"]["params"] == on["training rows"]
    assert not np.allclose(m.predict(y), first.predict(y))
    old = rewrite_metadata(first.save(tmp_path / "m.minilstm"), lambda meta: meta["config"].pop("refit_baseline"))
    assert LSTMModel.load(old).config["refit_baseline"] is False      # a file from before: fitted as it was
    kept = LSTMModel({**SMALL, "output_steps": 6, "epochs": 30, "learning_rate": 0.01}).fit(y, verbose=False)
    assert kept.info["network_kept"] or kept.info["baseline_refit"]    # a kept network keeps the first choice
    if kept.info["network_kept"]:
        assert "baseline_refit" not in kept.info


def test_an_ensemble_keeps_its_tail_held_out_from_the_smoother():
    from minilstm import LSTMEnsemble
    from minilstm.errors import NotFittedError
    y = seasonal(160, seed=2)
    cfg = {**SMALL, "output_steps": 3, "epochs": 1, "learning_rate": 1e-9}
    from minilstm.forecast.config import validate_config
    for given in (cfg, validate_config(cfg), LSTMModel(cfg).fit(y, verbose=False).config):   # however it is given
        ens = LSTMEnsemble(given, n_members=2).fit(y, verbose=False)
        assert all(c["refit_baseline"] is False for c in ens.configs)
        assert not any(m.info.get("baseline_refit") for m in ens.members)
        assert ens.quantiles(0.8, steps=3).shape == (3, 1)
    told = LSTMEnsemble(cfg, member_configs=[{"refit_baseline": True, "seed": 1}, {"seed": 2}]).fit(y, verbose=False)
    assert [bool(m.info.get("baseline_refit")) for m in told.members] == [True, False]
    with pytest.raises(NotFittedError, match="refit_baseline"):
        told.quantiles(0.8)


def test_predict_forecast_and_recursive_steps_agree():
    y, m = univariate_model()
    p = m.predict(y)
    assert m.forecast(y[:200])[0] == pytest.approx(p[200 - 24], rel=1e-6)
    r = m.predict(y, steps=3)
    np.testing.assert_allclose(r[:, 0], p, rtol=1e-6)                  # a recursive first step is predict's
    assert np.isfinite(r).all()
    np.testing.assert_allclose(m.forecast(y[:200], steps=3), r[200 - 24], rtol=1e-6)


def test_saved_and_pickled_models_forecast_the_same(tmp_path):
    y, m = univariate_model(output_steps=4)
    back = LSTMModel.load(m.save(tmp_path / "m.minilstm"))
    np.testing.assert_array_equal(back.predict(y), m.predict(y))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(m)).predict(y), m.predict(y))


def test_a_file_saved_before_fitted_states_forecasts_as_before(tmp_path):
    y, m = univariate_model(output_steps=4)
    assert m.info["baseline_ets"]["init"] == "least_squares"
    path = rewrite_metadata(m.save(tmp_path / "m.minilstm"),
                            lambda meta: meta["info"]["baseline_ets"].pop("init"))   # as files were written before
    old = LSTMModel.load(path)
    smoother = old._transform().smoother
    assert smoother.init == FIRST_WINDOW
    rows = old._nx(y[:, None])
    params = {k: np.array([v]) for k, v in smoother.params[0].items() if k not in ("log", "floor")}
    z = np.log(smoother.to_raw[0][0] * rows[:, 0] + smoother.to_raw[0][1]) if smoother.params[0]["log"] else rows[:, 0]
    f = run(z[None], params, smoother.m, 24, np.arange(1, 5), origins=range(24, 241))[0, :, 0]
    if smoother.params[0]["log"]:
        f = (np.exp(f) - smoother.to_raw[0][1]) / smoother.to_raw[0][0]
    np.testing.assert_allclose(smoother.row_forecasts(rows, 24, np.arange(1, 5))[:, :, 0], f, rtol=1e-12)
    assert not np.allclose(m.predict(y), old.predict(y))                # the new states do differ


@pytest.mark.parametrize("bad", [
    {"alpha": 2.0}, {"phi": float("nan")}, {"log": 1.0, "to_raw": None}, {"season": 0}, {"extra": 1},
    {"init": "backcast"},
])
def test_a_tampered_smoother_in_a_file_is_refused(bad, tmp_path):
    _, m = univariate_model()

    def tamper(meta):
        ets = meta["info"]["baseline_ets"]
        for k, v in bad.items():
            if k in ("season", "init"):
                ets[k] = v
            elif k == "to_raw":
                ets["to_raw"] = [v]
            else:
                ets["params"][0][k] = v
    path = rewrite_metadata(m.save(tmp_path / "m.minilstm"), tamper)
    with pytest.raises(ModelFileError, match="baseline_ets"):
        LSTMModel.load(path)


def test_flat_and_short_series():
    flat = np.full(120, 7.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = LSTMModel({**SMALL, "output_steps": 3}).fit(flat, verbose=False)
    np.testing.assert_allclose(m.predict(flat), 7.0, atol=1e-6)          # a constant forecasts itself
    zeros = np.zeros(120)
    m = LSTMModel({**SMALL, "output_steps": 3}).fit(zeros, verbose=False)
    assert np.isfinite(m.predict(zeros)).all()
