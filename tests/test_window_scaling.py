"""Per-window scaling, the naive and seasonal-naive baselines and the refit on every row (forecast.scaling)."""
import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import ConfigError
from minilstm.forecast.scaling import WindowTransform, baseline_positions, window_levels

SMALL = {"hidden_size": 8, "num_layers": 1, "sequence_length": 12, "epochs": 3, "batch_size": 16, "seed": 1}


def seasonal(n=160, seed=0):
    t = np.arange(n)
    return 5 + 0.05 * t + np.sin(2 * np.pi * t / 6) + 0.05 * np.random.default_rng(seed).standard_normal(n)


def test_baseline_positions_repeat_the_last_season():
    # window of 8 rows (0..7), season 4: targets 1..6 rows after the window repeat rows 4, 5, 6, 7, 4, 5
    assert baseline_positions(8, 1, 6, 4).tolist() == [4, 5, 6, 7, 4, 5]
    assert baseline_positions(8, 3, 2, 4).tolist() == [6, 7]
    assert baseline_positions(8, 1, 3, 1).tolist() == [7, 7, 7]           # no season: the last value
    assert baseline_positions(8, 1, 3, 12).tolist() == [7, 7, 7]          # a season longer than the window
    assert baseline_positions(8, 0, 1, 4).tolist() == [7]                 # horizon 0: the window's own last row


def test_transform_round_trip_and_levels():
    rng = np.random.default_rng(0)
    Xw, Y = rng.standard_normal((5, 8, 3)), rng.standard_normal((5, 2, 2))
    wt = WindowTransform([2, None], {2: 0.1}, baseline_positions(8, 1, 2, 4))
    Xs, levels = wt.inputs(Xw)
    np.testing.assert_allclose(Xs[:, -1, 2], 0.0, atol=1e-12)               # each window starts from its level 0
    np.testing.assert_allclose(Xs[:, :, 2].std(axis=1), 1.0)              # ... in units of its own spread
    np.testing.assert_array_equal(Xs[:, :, :2], Xw[:, :, :2])             # other columns untouched
    np.testing.assert_allclose(wt.outputs(Xs, wt.targets(Xs, Y, levels), levels), Y, atol=1e-12)
    flat = np.ones((1, 8, 3))
    assert window_levels(flat, {0: 0.25})[0][1][0] == 0.25                # a flat window's spread is the floor


@pytest.mark.parametrize("baseline", ["naive", "seasonal_naive"])
def test_an_untrained_network_forecasts_the_baseline(baseline, monkeypatch):
    y = seasonal()
    m = LSTMModel({**SMALL, "output_steps": 4, "baseline": baseline, "season": 6}).fit(y, verbose=False)
    monkeypatch.setattr(m._net, "predict", lambda Xw, n_out: np.zeros((len(Xw), n_out)))
    P = m.predict(y)                                                      # (n_windows, 4)
    L = SMALL["sequence_length"]
    for j in (0, 50, len(P) - 1):
        end = j + L - 1
        want = [y[end]] * 4 if baseline == "naive" else [y[end + d - 6] for d in range(1, 5)]
        np.testing.assert_allclose(P[j], want, rtol=1e-9)


def test_window_scaling_carries_a_new_level_exactly():
    """A level the training rows never reached: with scaling='window' the forecast moves with it exactly."""
    y = seasonal()
    for scaling, exact in (("window", True), (None, False)):
        m = LSTMModel({**SMALL, "scaling": scaling, "baseline": None}).fit(y, verbose=False)   # scaling alone
        shift = 100 * y.std()
        moved = m.predict(y + shift) - shift
        assert np.allclose(moved, m.predict(y), atol=1e-6 * shift) == exact, scaling


def test_auto_baseline_picks_per_step_on_the_training_windows():
    from minilstm.forecast.scaling import choose_positions
    rng = np.random.default_rng(0)
    t = np.arange(400)
    y = np.sin(2 * np.pi * t / 8) * 5 + 0.01 * rng.standard_normal(400)     # a clean cycle: seasonal wins
    m = LSTMModel({**SMALL, "output_steps": 3, "baseline": "auto", "season": 8}).fit(y, verbose=False)
    assert m.info["baseline_positions"] == baseline_positions(12, 1, 3, 8).tolist()
    walk = np.cumsum(rng.standard_normal(400))                              # a random walk: the last value wins
    m = LSTMModel({**SMALL, "output_steps": 3, "baseline": "auto", "season": 8}).fit(walk, verbose=False)
    assert m.info["baseline_positions"] == [11, 11, 11]
    # per step: step 0 is closest to now, the later ones to the season before
    Xw = np.zeros((4, 6, 1))
    Xw[:, :, 0] = [0, 1, 2, 3, 4, 5]
    Y = np.array([[[5.0], [3.0]]] * 4)                                      # step 0 = last value, step 1 = row 3
    assert choose_positions(Xw, Y, [0], 6, 1, 2, 4).tolist() == [5, 3]


def test_exogenous_columns_keep_the_global_normalizer():
    y = seasonal()
    X = np.c_[y, np.cos(np.arange(len(y)))]
    m = LSTMModel({**SMALL, "scaling": "window"}).fit(X, y, verbose=False)
    assert m.info["target_history"] == [0] and m.info["window_floors"][0] > 0
    with pytest.raises(ConfigError, match="no column of X holds them"):        # y's history not in X: refused
        LSTMModel({**SMALL, "scaling": "window"}).fit(X[:, 1:], y, verbose=False)
    with pytest.raises(ConfigError, match="no column of X holds them"):        # an already shifted y, horizon 0
        LSTMModel({**SMALL, "baseline": "naive", "horizon": 0}).fit(X, np.r_[y[1:], y[-1]], verbose=False)
    two = LSTMModel({**SMALL, "baseline": "auto"}).fit(X, np.c_[y, np.sin(np.arange(len(y)))], verbose=False)
    assert two.info["target_history"] == [0, None]                          # one target with history is enough


def test_refit_full_trains_on_every_row_for_the_chosen_epochs():
    y = seasonal()
    m = LSTMModel({**SMALL, "epochs": 6, "refit_full": True, "baseline": None}).fit(y, verbose=False)
    chosen = m.info["best_epoch"]
    assert m.info["refit_epochs"] == chosen and m.info["n_train_windows"] == len(y) - 12
    assert m.info["n_val_windows"] == 0 and m.info["validated_windows"] > 0      # nothing is held out any more
    assert len(m.train_history) == 6 and all(r["val_loss"] is not None for r in m.train_history)
    plain = LSTMModel({**SMALL, "epochs": 6, "baseline": None}).fit(y, verbose=False)
    assert plain.info["n_train_windows"] < m.info["n_train_windows"]
    again = LSTMModel({**SMALL, "epochs": chosen, "patience": None, "restore_best": False, "baseline": None}).fit(
        y, validation_split=0, verbose=False)
    np.testing.assert_allclose(m.predict(y), again.predict(y), rtol=1e-6)   # the refit is exactly that fit


@pytest.mark.parametrize("settings", [{"scaling": "window"}, {"baseline": "seasonal_naive", "season": 6},
                                      {"baseline": "auto", "output_steps": 3},
                                      {"scaling": "window", "baseline": "naive", "refit_full": True}])
def test_save_load_keeps_the_window_mechanisms(settings, tmp_path):
    y = seasonal()
    m = LSTMModel({**SMALL, **settings}).fit(y, verbose=False)
    back = LSTMModel.load(m.save(tmp_path / "m.minilstm"))
    np.testing.assert_array_equal(back.predict(y), m.predict(y))
    np.testing.assert_array_equal(back.gate_activations(y)["h"], m.gate_activations(y)["h"])


def test_bad_settings_are_clear():
    with pytest.raises(ConfigError, match="scaling"):
        LSTMModel(scaling="revin")
    with pytest.raises(ConfigError, match="baseline"):
        LSTMModel(baseline="holt_winters")
    with pytest.raises(ConfigError, match="refit_full"):
        LSTMModel(refit_full="yes")


def test_files_from_before_the_options_load_without_them(tmp_path):
    import json
    import zipfile
    y = seasonal()
    m = LSTMModel(SMALL).fit(y, verbose=False)
    p = m.save(tmp_path / "m.minilstm")
    with zipfile.ZipFile(p) as z:
        files = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in files if n.endswith(".json"))
    meta = json.loads(files[name])
    for key in ("scaling", "baseline", "refit_full"):
        del meta["config"][key]
    files[name] = json.dumps(meta).encode()
    old = tmp_path / "old.minilstm"
    with zipfile.ZipFile(old, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    back = LSTMModel.load(old)
    assert back.config["scaling"] is None and back.config["baseline"] is None and not back.config["refit_full"]
    np.testing.assert_array_equal(back.predict(y), m.predict(y))


def test_a_refit_that_fails_keeps_the_validated_fit(monkeypatch):
    from minilstm.forecast import training
    y = seasonal()
    real = training.train
    calls = []

    def second_call_diverges(net, Xw, Y, tr, va, cfg, verbose=True):
        calls.append(len(va))
        result = real(net, Xw, Y, tr, va, cfg, verbose)
        if len(calls) == 2:
            result.best_epoch, result.diverged = 0, "the loss became nan (planted)"
        return result
    monkeypatch.setattr(training, "train", second_call_diverges)
    m = LSTMModel({**SMALL, "refit_full": True}).fit(y, verbose=False)
    assert calls[0] > 0 and calls[1] == 0                                   # validated, then the refit on every row
    assert m.is_fitted and "planted" in m.info["refit_failed"] and m.info["n_val_windows"] > 0
    ref = LSTMModel(SMALL).fit(y, verbose=False)
    np.testing.assert_array_equal(m.predict(y), ref.predict(y))            # the first, validated run


def test_ensemble_with_refit_full_has_no_trained_on_tail_for_intervals():
    from minilstm import LSTMEnsemble
    from minilstm.errors import NotFittedError
    y = seasonal()
    ens = LSTMEnsemble({**SMALL, "epochs": 2, "refit_full": True}, n_members=2).fit(y, y, verbose=False)
    assert ens.residuals is None
    with pytest.raises(NotFittedError, match="refit_full"):
        ens.predict(y, intervals=0.8)
