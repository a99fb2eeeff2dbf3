"""Sweeps: grid and random search, scored in time order, failures recorded, bad grids named."""
import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import ConfigError
from minilstm.forecast.tuning import sweep, trial_configs

BASE = {"num_layers": 1, "epochs": 2, "batch_size": 16, "patience": None, "sequence_length": 8, "hidden_size": 4}


def series(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 5 + 2 * np.sin(2 * np.pi * t / 8) + 0.3 * rng.standard_normal(n)
    return np.c_[y, np.cos(2 * np.pi * t / 8)], y


def test_grid_tries_every_combination_sorted_by_a_score_evaluate_gives():
    X, y = series()
    r = sweep({"hidden_size": [4, 6], "learning_rate": [0.01, 0.002]}, X, y, config=BASE, cv=0.25, verbose=False)
    assert len(r.trials) == 4 and [t["rank"] for t in r.trials] == [1, 2, 3, 4]
    assert {(t["params"]["hidden_size"], t["params"]["learning_rate"]) for t in r.trials} == \
        {(4, 0.01), (4, 0.002), (6, 0.01), (6, 0.002)}
    scores = [t["score"] for t in r.trials]
    assert scores == sorted(scores) and r.best_score == scores[0] and r.best_params == r.trials[0]["params"]
    worst = r.trials[-1]                      # the same number by hand: fit before the last 30 rows, score on them
    m = LSTMModel({**BASE, **worst["params"]}).fit(X[:90], y[:90], verbose=False)
    assert worst["score"] == pytest.approx(m.evaluate(X[90 - 8:], y[90 - 8:], verbose=False)["rmse"], rel=1e-6)
    assert "rank" in r.table() and r.best_config["hidden_size"] == r.best_params["hidden_size"]
    cv = r.cv_results_                       # scikit-learn's layout, in trial order
    assert cv["params"][0] == {"hidden_size": 4, "learning_rate": 0.01}
    assert cv["mean_test_score"][cv["rank_test_score"] == 1][0] == r.best_score


def test_random_search_draws_without_repeats_and_is_reproducible():
    grid = {"hidden_size": [4, 5, 6, 7], "learning_rate": [0.01, 0.003, 0.001]}
    a, _ = trial_configs(grid, BASE, n_iter=5, random_state=1)
    b, _ = trial_configs(grid, BASE, n_iter=5, random_state=1)
    assert a == b and len({tuple(t.values()) for t in a}) == 5
    draws, _ = trial_configs({"learning_rate": lambda g: float(10 ** g.uniform(-4, -2))}, BASE, n_iter=4)
    assert all(1e-4 <= t["learning_rate"] <= 1e-2 for t in draws) and len({t["learning_rate"] for t in draws}) == 4
    with pytest.raises(ConfigError, match="n_iter"):
        trial_configs({"learning_rate": lambda g: 0.01}, BASE)


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on():
    X, y = series()
    r = sweep([{"sequence_length": 8}, {"sequence_length": 5000}, {"sequence_length": 6}], X, y, config=BASE,
              verbose=False)
    assert [t["status"] for t in r.trials] == ["ok", "ok", "failed"]
    bad = r.trials[-1]
    assert bad["params"] == {"sequence_length": 5000} and "DataError" in bad["error"] and "too few" in bad["error"]
    assert np.isnan(bad["score"]) and bad["rank"] is None and "failed" in r.table()


def test_backtest_cv_gives_a_spread_over_folds_and_seeds_over_seeds():
    X, y = series()
    r = sweep({"hidden_size": [4]}, X, y, config=BASE, cv={"start": 60, "step": 20}, verbose=False)
    assert r.trials[0]["spread"] > 0                                      # three folds
    s = sweep({"hidden_size": [4]}, X, y, config=BASE, seeds=[1, 2], verbose=False)
    one = [sweep({"hidden_size": [4]}, X, y, config={**BASE, "seed": k}, verbose=False).best_score for k in (1, 2)]
    assert s.best_score == pytest.approx(np.mean(one)) and s.trials[0]["spread"] == pytest.approx(np.std(one))


def test_r2_sorts_descending_and_refit_fits_the_best():
    X, y = series()
    r = sweep({"learning_rate": [0.02, 0.001]}, X, y, config=BASE, scoring="r2", refit=True, verbose=False)
    assert r.trials[0]["score"] >= r.trials[1]["score"]
    assert r.best_model.is_fitted and r.best_model.config["learning_rate"] == r.best_params["learning_rate"]


@pytest.mark.parametrize("params, kwargs, words", [
    ({"hiden_size": [4]}, {}, r"unknown key\(s\) \['hiden_size'\]; valid keys: input_size, hidden_size"),
    ({"hidden_size": [4, -2]}, {}, r"params\['hidden_size'\] holds an invalid value -2"),
    ({"hidden_size": 4}, {}, r"write \[4\]"),
    ({"hidden_size": []}, {}, "empty"),
    ({"hidden_size": [4]}, {"scoring": "accuracy"}, "scoring"),
    ({"hidden_size": [4]}, {"cv": 3}, "cv must be"),
])
def test_bad_grids_are_named_with_the_valid_keys(params, kwargs, words):
    X, y = series(40)
    with pytest.raises(ConfigError, match=words):
        sweep(params, X, y, config=BASE, verbose=False, **kwargs)
