"""LSTMEnsemble: members by seed, mean/median, conformal intervals on the time-ordered tail, one safe file."""
import zipfile

import numpy as np
import pytest

from minilstm.errors import ConfigError, DataError, ModelFileError, NotFittedError
from minilstm.forecast import io as model_io
from minilstm.forecast.ensemble import LSTMEnsemble, conformal_quantile
from minilstm.forecast.windows import window_targets

CFG = {"hidden_size": 4, "num_layers": 1, "sequence_length": 8, "epochs": 2, "batch_size": 16, "seed": 5,
       "patience": None}


def series(n=200, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 5 + 2 * np.sin(2 * np.pi * t / 8) + 0.4 * rng.standard_normal(n)
    return np.c_[y, np.cos(2 * np.pi * t / 8)], y


@pytest.fixture(scope="module")
def fitted():
    X, y = series()
    return LSTMEnsemble(CFG, n_members=3).fit(X[:150], y[:150], validation_split=0.25, verbose=False), X, y


def test_members_differ_by_seed_and_the_point_is_their_mean(fitted):
    ens, X, _ = fitted
    seeds = [m.config["seed"] for m in ens.members]
    assert len(set(seeds)) == 3
    preds = np.stack([m.predict(X[150:]) for m in ens.members])
    assert not np.allclose(preds[0], preds[1])
    np.testing.assert_allclose(ens.predict(X[150:]), preds.mean(0))
    med = LSTMEnsemble(CFG, n_members=3, aggregate="median")
    med.members, med.residuals, med.is_fitted = ens.members, ens.residuals, True
    np.testing.assert_allclose(med.predict(X[150:]), np.median(preds, 0))


def test_intervals_are_split_conformal_on_the_last_windows(fitted):
    ens, X, y = fitted
    L, n_val = CFG["sequence_length"], ens.members[0].info["n_val_windows"]
    n = 150 - L                                         # labeled windows of the 150 training rows (horizon 1)
    first = n - n_val                                   # the tail: the last n_val windows, in time order
    point = ens.predict(X[first:150])[:n_val]
    resid = np.abs(window_targets(y[first:150, None], L, 1)[:, 0, 0] - point)
    np.testing.assert_allclose(np.sort(ens.residuals[:, 0, 0]), np.sort(resid))
    q80 = np.sort(resid)[int(np.ceil((n_val + 1) * 0.8)) - 1]
    p, bounds = ens.predict(X[150:], intervals=(0.8, 0.95))
    np.testing.assert_allclose(bounds[0.8][1] - p, q80)
    assert np.all(bounds[0.95][1] - bounds[0.95][0] >= bounds[0.8][1] - bounds[0.8][0])


def test_evaluate_reports_coverage_and_the_baselines(fitted):
    ens, X, y = fitted
    r = ens.evaluate(X[150:], y[150:], verbose=False)
    single = ens.members[0].evaluate(X[150:], y[150:], verbose=False)
    assert r["n_scored"] == single["n_scored"] and set(r["baselines"]) == set(single["baselines"])
    p, b = ens.predict(X[150:], intervals=0.8)
    truth = y[150 + CFG["sequence_length"]:]
    inside = (truth >= b[0.8][0][:len(truth)]) & (truth <= b[0.8][1][:len(truth)])
    assert r["intervals"][0.8]["coverage"] == pytest.approx(inside.mean())
    assert r["rmse"] == pytest.approx(np.sqrt(np.mean((p[:len(truth)] - truth) ** 2)))
    assert "80% conformal interval" in r.table()
    on_tail = ens.evaluate(X[150 - 50:150], y[150 - 50:150], verbose=False)   # holds the calibration tail
    assert on_tail["intervals"][0.95]["coverage"] >= 0.9


def test_one_file_round_trip_and_a_missing_member(fitted, tmp_path):
    ens, X, _ = fitted
    path = tmp_path / "ens.minilstm"
    ens.save(path)
    with zipfile.ZipFile(path) as z:
        assert "metadata.json" in z.namelist() and not any(n.endswith((".pkl", ".pickle")) for n in z.namelist())
    back = LSTMEnsemble.from_file(path)
    np.testing.assert_allclose(back.predict(X[150:], intervals=0.8)[1][0.8][0],
                               ens.predict(X[150:], intervals=0.8)[1][0.8][0])
    meta, arrays = model_io.read_model_file(path)
    model_io.write_model_file(tmp_path / "cut.minilstm", meta, {k: v for k, v in arrays.items() if
                                                                 not k.startswith("member1.")})
    with pytest.raises(ModelFileError, match="member 1 of 3"):
        LSTMEnsemble.from_file(tmp_path / "cut.minilstm")
    with pytest.raises(ModelFileError, match="LSTMModel"):
        LSTMEnsemble.from_file(ens.members[0].save(tmp_path / "one.minilstm"))
    before = path.read_bytes()
    with pytest.raises(NotFittedError):
        LSTMEnsemble(CFG, n_members=2).save(path)
    assert path.read_bytes() == before


def test_member_configs_and_bad_settings():
    X, y = series(120)
    ens = LSTMEnsemble(CFG, member_configs=[{"hidden_size": 4}, {"hidden_size": 6}])
    ens.fit(X, y, verbose=False)
    assert [m.config["hidden_size"] for m in ens.members] == [4, 6]
    with pytest.raises(ConfigError, match="sequence_length"):
        LSTMEnsemble(CFG, member_configs=[{"sequence_length": 8}, {"sequence_length": 9}])
    with pytest.raises(ConfigError, match="aggregate"):
        LSTMEnsemble(CFG, aggregate="mode")
    with pytest.raises(DataError, match="calibration windows"):
        conformal_quantile(np.ones((5, 1, 1)), 0.95)
    none = LSTMEnsemble(CFG, n_members=2).fit(X, y, validation_split=0.0, verbose=False)
    with pytest.raises(NotFittedError, match="validation_split"):
        none.predict(X, intervals=0.8)
    with pytest.raises(NotFittedError):
        LSTMEnsemble(CFG).predict(X)


def test_recursive_intervals_for_a_univariate_series():
    _, y = series(120)
    ens = LSTMEnsemble(CFG, n_members=2).fit(y, y, validation_split=0.3, interval_steps=3, verbose=False)
    point, b = ens.forecast(y, steps=3, intervals=0.8)
    assert point.shape == (3,) == b[0.8][0].shape and ens.residuals.shape[1] == 3
    assert np.all(b[0.8][1] > point) and np.all(b[0.8][0] < point)
