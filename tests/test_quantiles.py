"""Quantile forecasts: the pinball loss (values, gradient check), the config's checks, the model's outputs
(median by default, sorted levels on request), evaluate's keys, save/load, and the wrappers that fit models."""
import json
import zipfile

import numpy as np
import pytest
from conftest import rewrite_metadata

from minilstm import LSTMModel
from minilstm.errors import ConfigError, ModelFileError, ShapeError
from minilstm.forecast import quantiles as qf
from minilstm.forecast.config import validate_config
from minilstm.forecast.training import build_network, loss_function
from minilstm.functional import mse_loss, pinball_loss
from minilstm.gradcheck import check_function

LEVELS = [0.1, 0.5, 0.9]
CFG = {"hidden_size": 6, "num_layers": 1, "sequence_length": 12, "epochs": 3, "batch_size": 16, "seed": 2,
       "patience": None, "loss": "quantile", "quantiles": LEVELS}


def series(n=200, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / 12) + 0.5 * rng.standard_normal(n)
    return np.c_[y, np.cos(2 * np.pi * t / 12)], y


@pytest.fixture(scope="module")
def fitted():
    X, y = series()
    return LSTMModel(CFG).fit(X[:160], y[:160], verbose=False), X, y


# ---- the loss -------------------------------------------------------------------------------

def test_pinball_gradient_check_float64():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((4, 3))
    # every prediction at least 0.05 from its target: the finite differences never step over the kink
    pred = target[..., None] + rng.choice([-1.0, 1.0], (4, 3, 5)) * rng.uniform(0.05, 1.0, (4, 3, 5))
    levels = np.array([0.05, 0.2, 0.5, 0.7, 0.95])

    def forward(pred):
        return np.array(pinball_loss(pred, target, levels)[0])

    def backward(g):
        return {"pred": float(g) * pinball_loss(pred, target, levels)[1]}
    report = check_function(forward, backward, {"pred": pred}, h=1e-6, tol=1e-7, order=2)
    assert report.passed, str(report)
    assert report.max_error < 1e-7


def test_pinball_values_and_the_constant_that_minimises_it_is_the_quantile():
    loss, grad = pinball_loss(np.array([[1.0, 1.0]]), np.array([3.0]), [0.1, 0.9])   # 2 below the truth
    assert loss == pytest.approx((0.1 * 2 + 0.9 * 2) / 2)
    np.testing.assert_allclose(grad, [[-0.1 / 2, -0.9 / 2]])
    loss, grad = pinball_loss(np.array([[5.0]]), np.array([3.0]), [0.25])            # 2 above: weight 1 - q
    assert loss == pytest.approx(0.75 * 2) and grad[0, 0] == pytest.approx(0.75)
    y = np.random.default_rng(1).standard_normal(2001)
    grid = np.linspace(-2, 2, 801)
    for q in (0.1, 0.5, 0.9):
        losses = [pinball_loss(np.full((y.size, 1), c), y, [q])[0] for c in grid]
        assert abs(grid[int(np.argmin(losses))] - np.quantile(y, q)) < 0.01


def test_pinball_shapes_are_checked():
    with pytest.raises(ShapeError, match="last axis"):
        pinball_loss(np.zeros((4, 3)), np.zeros(4), [0.1, 0.5])
    with pytest.raises(ShapeError, match="without its last"):
        pinball_loss(np.zeros((4, 2)), np.zeros((4, 2)), [0.1, 0.5])
    with pytest.raises(ConfigError, match=r"\(0, 1\)"):
        pinball_loss(np.zeros((4, 2)), np.zeros(4), [0.0, 0.5])


# ---- the config ---------------------------------------------------------------------------------

@pytest.mark.parametrize("settings,words", [
    ({"loss": "quantile"}, ["config['quantiles']", "[0.1, 0.5, 0.9]"]),
    ({"loss": "quantile", "quantiles": [0.1, 1.0]}, ["strictly between 0 and 1"]),
    ({"loss": "quantile", "quantiles": [10, 50, 90]}, ["strictly between 0 and 1", "not 10"]),
    ({"loss": "quantile", "quantiles": [0.0, 0.5]}, ["strictly between 0 and 1"]),
    ({"loss": "quantile", "quantiles": [0.1, float("nan")]}, ["strictly between 0 and 1"]),
    ({"loss": "quantile", "quantiles": [0.1, 0.5, 0.5]}, ["repeated", "[0.1, 0.5]"]),
    ({"loss": "quantile", "quantiles": [0.9, 0.1, 0.5]}, ["increasing order", "[0.1, 0.5, 0.9]"]),
    ({"loss": "quantile", "quantiles": []}, ["list of 1 to 99"]),
    ({"loss": "quantile", "quantiles": 0.5}, ["list of 1 to 99"]),
    ({"loss": "quantile", "quantiles": [True, 0.5]}, ["list of 1 to 99"]),
    ({"quantiles": [0.1, 0.9]}, ["config['loss'] = 'quantile'", "leave quantiles out"]),
    ({"loss": "mae", "quantiles": [0.1, 0.9]}, ["config['loss'] = 'quantile'", "loss='mae'"]),
    ({"loss": "pinball"}, ["'quantile'"]),
])
def test_bad_quantile_settings_name_the_fix(settings, words):
    with pytest.raises(ConfigError) as e:
        LSTMModel(settings)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_quantiles_are_stored_as_a_list_of_floats_and_other_losses_keep_none():
    c = validate_config({"loss": "quantile", "quantiles": np.array([0.25, 0.75])})
    assert c["quantiles"] == [0.25, 0.75] and all(type(v) is float for v in c["quantiles"])
    assert validate_config({"loss": "quantile", "quantiles": (np.float32(0.5),)})["quantiles"] == [0.5]
    assert validate_config({})["quantiles"] is None and validate_config({})["loss"] == "mse"
    with pytest.raises(ConfigError, match="did you mean 'quantiles'"):
        LSTMModel(loss="quantile", quantile_levels=[0.2, 0.8])


def test_the_head_grows_by_the_number_of_levels_and_other_losses_keep_theirs():
    base = validate_config({"hidden_size": 5, "num_layers": 1, "output_steps": 3})
    assert build_network(base, 2, 2).head.params["W"].shape == (5, 6)
    quant = validate_config({**base, "loss": "quantile", "quantiles": [0.1, 0.3, 0.5, 0.9]})
    assert build_network(quant, 2, 2).head.params["W"].shape == (5, 24)
    assert loss_function(base) is mse_loss
    a, b = build_network(base, 2, 2), build_network(validate_config({**base, "loss": "mae"}), 2, 2)
    for k, v in a.params.items():                          # the same seeded weights whatever the point loss
        np.testing.assert_array_equal(v, b.params[k])


def test_the_training_loss_reads_the_level_fastest_layout():
    cfg = validate_config({"loss": "quantile", "quantiles": [0.2, 0.8]})
    rng = np.random.default_rng(3)
    pred, target = rng.standard_normal((4, 6)), rng.standard_normal((4, 3))   # k*T = 3 outputs, Q = 2
    loss, grad = loss_function(cfg)(pred, target)
    ref, ref_grad = pinball_loss(pred.reshape(4, 3, 2), target, [0.2, 0.8])
    assert loss == ref and grad.shape == (4, 6)
    np.testing.assert_array_equal(grad, ref_grad.reshape(4, 6))


# ---- the model -------------------------------------------------------------------------------------

def test_median_index_rule():
    assert qf.median_index([0.1, 0.5, 0.9]) == 1
    assert qf.median_index([0.05, 0.1, 0.5, 0.9]) == 2           # 0.5 listed: that one
    assert qf.median_index([0.1, 0.3, 0.8]) == 1                 # else the middle level
    assert qf.median_index([0.1, 0.4, 0.6, 0.9]) == 1            # even count: the lower middle one
    assert qf.median_index([0.9]) == 0


def test_predict_gives_the_median_and_quantiles_that_never_cross(fitted):
    m, X, _ = fitted
    point, q = m.predict(X), m.predict(X, quantiles=True)
    assert point.shape == (len(X) - 11,) and q.shape == (len(X) - 11, 3)
    np.testing.assert_array_equal(point, q[:, 1])
    assert (np.diff(q, axis=-1) >= 0).all()
    f, fq = m.forecast(X), m.forecast(X, quantiles=True)
    assert f.shape == (1,) and fq.shape == (1, 3) and f[0] == fq[0, 1]
    np.testing.assert_array_equal(fq[0], q[-1])


def test_crossing_outputs_are_sorted(fitted):
    import copy

    from minilstm.forecast.windows import sliding_windows
    m, X, _ = fitted
    m2 = copy.deepcopy(m)
    W, b = m2.head.params["W"], m2.head.params["b"]
    W[...] = W[:, ::-1].copy()                                       # the levels' columns reversed: they cross
    b[...] = b[::-1].copy()
    raw = m2._net.predict(sliding_windows(m2._nx(X), 12), 3)
    assert (np.diff(raw, axis=-1) < 0).any()                         # the network's own outputs cross
    q = m2.predict(X, quantiles=True)
    assert (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_allclose(np.sort(q, axis=-1), q)
    np.testing.assert_allclose(m2.predict(X), q[:, 1])


def test_evaluate_reports_pinball_and_interval_coverage_on_the_median(fitted):
    m, X, y = fitted
    r = m.evaluate(X[140:], y[140:], verbose=False)
    n = len(X[140:]) - 12
    assert r["quantiles"] == LEVELS and r["n_scored"] == n
    assert set(r["intervals"]) == {0.8}
    iv = r["intervals"][0.8]
    q = m.predict(X[140:], quantiles=True)[:n]
    truth = y[140 + 12:]
    assert iv["coverage"] == pytest.approx(((truth >= q[:, 0]) & (truth <= q[:, 2])).mean())
    assert iv["mean_width"] == pytest.approx((q[:, 2] - q[:, 0]).mean())
    assert (iv["lower"], iv["upper"], iv["n"]) == (0.1, 0.9, n)
    assert r["pinball"] == pytest.approx(pinball_loss(q, truth, LEVELS)[0])
    assert r["pinball"] == pytest.approx(np.mean(list(r["pinball_by_quantile"].values())))
    assert r["rmse"] == pytest.approx(np.sqrt(np.mean((q[:, 1] - truth) ** 2)))
    assert any("80% quantile interval" in s for s in r["notes"]) and "80% quantile interval" in r.table()


def test_multi_step_quantiles_shapes_and_the_direct_limit():
    X, y = series()
    m = LSTMModel({**CFG, "output_steps": 3, "quantiles": [0.05, 0.25, 0.75, 0.95]}).fit(X, y[:, None],
                                                                                         verbose=False)
    q = m.predict(X, quantiles=True)
    assert q.shape == (len(X) - 11, 3, 1, 4) and (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_array_equal(m.predict(X), q[..., 1])       # no 0.5: the lower middle level, 0.25
    assert m.forecast(X, quantiles=True).shape == (3, 1, 4)
    assert m.predict(X, steps=2, quantiles=True).shape == (len(X) - 11, 2, 1, 4)
    r = m.evaluate(X[120:], y[120:], verbose=False)
    assert set(r["intervals"]) == {0.9, 0.5}
    with pytest.raises(ConfigError, match="direct"):
        m.predict(X, steps=4, quantiles=True)


def test_quantiles_flag_on_a_point_model_and_bad_flags():
    X, y = series()
    m = LSTMModel({**CFG, "loss": "mse", "quantiles": None}).fit(X, y, verbose=False)
    with pytest.raises(ConfigError, match="loss'] = 'quantile'"):
        m.predict(X, quantiles=True)
    with pytest.raises(ConfigError, match="True or False"):
        m.predict(X, quantiles="yes")
    assert "pinball" not in m.evaluate(X[140:], y[140:], verbose=False)


def test_a_univariate_series_with_the_smoothing_baseline(tmp_path):
    _, y = series()
    m = LSTMModel({**CFG, "output_steps": 2}).fit(y, verbose=False)         # baseline resolves to 'ets'
    assert m.info["baseline"] == "ets"
    q = m.predict(y, quantiles=True)
    assert q.shape == (len(y) - 11, 2, 3) and (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_array_equal(m.predict(y), q[..., 1])
    path = tmp_path / "u.minilstm"
    m.save(path)
    np.testing.assert_array_equal(LSTMModel.load(path).predict(y, quantiles=True), q)


def test_pandas_gives_one_column_per_level():
    pd = pytest.importorskip("pandas")
    X, y = series()
    idx = pd.date_range("2021-01-01", periods=len(X), freq="h")
    m = LSTMModel(CFG).fit(pd.DataFrame(X, index=idx, columns=["y", "c"]), pd.Series(y, index=idx, name="y"),
                           verbose=False)
    q = m.predict(pd.DataFrame(X, index=idx, columns=["y", "c"]), quantiles=True)
    assert list(q.columns) == LEVELS and q.index[0] == idx[12]
    point = m.predict(pd.DataFrame(X, index=idx, columns=["y", "c"]))
    np.testing.assert_array_equal(point.values, q[0.5].values)


# ---- files -------------------------------------------------------------------------------------------

def test_save_load_keeps_the_levels_and_predicts_exactly(fitted, tmp_path):
    m, X, y = fitted
    path = tmp_path / "q.minilstm"
    m.save(path)
    m2 = LSTMModel.load(path)
    assert m2.config["loss"] == "quantile" and m2.config["quantiles"] == LEVELS
    np.testing.assert_array_equal(m2.predict(X, quantiles=True), m.predict(X, quantiles=True))
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))
    rewrite_metadata(path, lambda meta: meta["config"].update(quantiles=[0.1, 0.9]), tmp_path / "bad.minilstm")
    with pytest.raises(ModelFileError):                 # two levels against a head of three: refused on load
        LSTMModel.load(tmp_path / "bad.minilstm")


@pytest.mark.parametrize("edit", [lambda w: w.update({"0.5": [0.1]}), lambda w: w["0.8"].append(1.0),
                                  lambda w: w.update({"0.8": ["1"]}), lambda w: w.update({"0.8": [float("nan")]})])
def test_a_tampered_calibration_is_refused(fitted, tmp_path, edit):
    m, X, y = fitted
    assert "quantile_widening" in m.info
    path = m.save(tmp_path / "q.minilstm")
    rewrite_metadata(path, lambda meta: edit(meta["info"]["quantile_widening"]), tmp_path / "bad.minilstm")
    with pytest.raises(ModelFileError, match="quantile_widening"):
        LSTMModel.load(tmp_path / "bad.minilstm")


def test_files_saved_before_quantiles_existed_still_load(tmp_path):
    X, y = series()
    m = LSTMModel({**CFG, "loss": "mse", "quantiles": None}).fit(X, y, verbose=False)
    path = tmp_path / "new.minilstm"
    m.save(path)
    rewrite_metadata(path, lambda meta: meta["config"].pop("quantiles"), tmp_path / "old.minilstm")
    with zipfile.ZipFile(tmp_path / "old.minilstm") as z:
        assert "quantiles" not in json.loads(z.read("metadata.json"))["config"]
    old = LSTMModel.load(tmp_path / "old.minilstm")
    assert old.config["quantiles"] is None
    np.testing.assert_array_equal(old.predict(X), m.predict(X))


# ---- what fits many models -------------------------------------------------------------------------------

def test_ensemble_runs_on_quantile_members_around_their_medians():
    from minilstm.forecast import LSTMEnsemble
    X, y = series()
    ens = LSTMEnsemble(CFG, n_members=2).fit(X[:170], y[:170], validation_split=0.2, verbose=False)
    point, bands = ens.predict(X[150:], intervals=0.8)
    np.testing.assert_allclose(point, np.mean([mem.predict(X[150:]) for mem in ens.members], axis=0))
    assert bands[0.8][0].shape == point.shape
    r = ens.evaluate(X[150:], y[150:], verbose=False)
    assert 0.0 <= r["intervals"][0.8]["coverage"] <= 1.0


def test_backtest_runs_with_the_quantile_loss():
    from minilstm.forecast import backtest
    X, y = series()
    r = backtest(CFG, X, y, start=150, step=10, refit=2, verbose=False)
    assert list(r.origins) == list(range(150, 200, 10))
    assert np.isfinite(r.metrics["rmse"]) and "all" in r.table()


def test_sweep_runs_with_the_quantile_loss():
    from minilstm.forecast import sweep
    X, y = series()
    r = sweep({"hidden_size": [4, 6]}, X, y, config=CFG, cv=0.25, verbose=False)
    assert len(r.table().splitlines()) >= 3 and np.isfinite(r.best_score)
    assert r.best_config["loss"] == "quantile" and r.best_config["quantiles"] == LEVELS


def test_a_series_forecast_from_its_own_past_keeps_its_spread_over_the_smoother():
    """The default smooths a univariate series; the network is then not gated off (its spread is the interval)."""
    _, y = series()
    m = LSTMModel({**CFG, "epochs": 15, "learning_rate": 0.01}).fit(y[:150], verbose=False)
    assert m.info["baseline"] == "ets" and "network_kept" not in m.info
    q = m.predict(y, quantiles=True)                                     # (n_windows, 3)
    assert (q[:, 2] - q[:, 0] > 0).all() and np.all(np.diff(q, axis=1) >= 0)


def test_conformal_widening_is_the_conformal_quantile_of_the_misses():
    from minilstm.forecast.quantiles import conformal_widening, interval_pairs, widen
    rng = np.random.default_rng(0)
    n, m = 199, 3
    Y = rng.standard_normal((n, m))
    P = np.stack([np.full((n, m), -0.5), np.zeros((n, m)), np.full((n, m), 0.5)], axis=-1)   # too narrow an 80%
    w = conformal_widening(P, Y, [0.1, 0.5, 0.9])
    E = np.maximum(-0.5 - Y, Y - 0.5)
    rank = int(np.ceil((n + 1) * 0.8))
    np.testing.assert_allclose(w["0.8"], np.sort(E, axis=0)[rank - 1])
    assert min(w["0.8"]) > 0                                          # overconfident: widened
    W = widen(P, w, [0.1, 0.5, 0.9])
    inside = (Y >= W[..., 0]) & (Y <= W[..., 2])
    assert (inside.mean(axis=0) >= 0.8).all()                          # on the calibration windows, by construction
    np.testing.assert_array_equal(W[..., 1], P[..., 1])                # the median is not moved
    assert interval_pairs([0.1, 0.5, 0.9]) == [(0, 2, 0.8)]


def test_a_quantile_model_serves_its_intervals_calibrated_on_the_validation_windows(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(900)
    y = np.sin(2 * np.pi * t / 24) + (0.3 + 0.3 * (np.sin(2 * np.pi * t / 200) > 0)) * rng.standard_normal(900)
    cfg = dict(hidden_size=8, num_layers=1, sequence_length=24, epochs=4, seed=0, loss="quantile",
               quantiles=[0.1, 0.5, 0.9])
    raw = LSTMModel(cfg, quantile_calibration=None).fit(y[:700], verbose=False)
    cal = LSTMModel(cfg).fit(y[:700], verbose=False)
    assert "quantile_widening" not in raw.info and len(cal.info["quantile_widening"]["0.8"]) == 1
    a, b = np.asarray(raw.predict(y[650:], quantiles=True)), np.asarray(cal.predict(y[650:], quantiles=True))
    np.testing.assert_allclose(b[:, 1], a[:, 1])                       # the same network: the median unchanged
    shift = cal._inv_y(np.array([[cal.info["quantile_widening"]["0.8"][0]]]))[0, 0] - cal._inv_y(np.zeros((1, 1)))[0, 0]
    np.testing.assert_allclose(b[:, 2] - a[:, 2], shift, rtol=1e-6)    # each bound moved by the widening
    np.testing.assert_allclose(a[:, 0] - b[:, 0], shift, rtol=1e-6)
    back = LSTMModel.load(cal.save(tmp_path / "q.minilstm"))
    np.testing.assert_array_equal(np.asarray(back.predict(y[650:], quantiles=True)), b)
    assert "quantile_widening" not in LSTMModel(cfg, refit_full=True).fit(y[:700], verbose=False).info
