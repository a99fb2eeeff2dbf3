"""One model over many series (forecast.many): no window crosses from one series into another, each series is
normalized by its own training rows, results come per series (lists by position, dicts and long frames by id),
files and pickles keep the per-series state, batches gathered from the rows train exactly as copied windows do,
and bad input is refused with the fix."""
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import rewrite_metadata

from minilstm import LSTMModel
from minilstm.errors import ConfigError, DataError, InputTypeError, ModelFileError, ShapeError
from minilstm.forecast import many, training

CFG = {"hidden_size": 8, "num_layers": 1, "sequence_length": 12, "epochs": 3, "batch_size": 16, "seed": 0}


def seasonal(n, level, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + 0.1 * level * np.sin(2 * np.pi * t / 12) + 0.02 * level * rng.standard_normal(n)


@pytest.fixture(scope="module")
def three():
    return [seasonal(160, 10.0, 0), seasonal(120, 1000.0, 1), seasonal(200, 50.0, 2)]


@pytest.fixture(scope="module")
def fitted(three):
    return LSTMModel(CFG).fit([s[:-30] for s in three], verbose=False)


def test_no_window_crosses_from_one_series_into_another(three):
    c = dict(LSTMModel(CFG, output_steps=3).config, target_columns=None)
    data = many.train_rows(many.as_series([s[:, None] for s in three], None, c), c, 0.1, False)
    ends = np.cumsum([len(p["Xn"]) for p in data["parts"]])
    L, k = 12, 3
    for w in np.r_[data["tr"], data["va"]]:
        start = data["Xw"].starts[w]
        series = np.searchsorted(ends, start, side="right")
        assert start + (L - 1) + 1 + (k - 1) <= ends[series] - 1          # the last target row: still this series
    # each series' windows come from its own rows: poisoning series 1 leaves series 0 and 2 as they were
    poisoned = [three[0], np.full(120, 1e6), three[2]]
    other = many.train_rows(many.as_series([s[:, None] for s in poisoned], None, c), c, 0.1, False)
    n0 = data["parts"][0]["n"]
    np.testing.assert_array_equal(other["Xw"][np.arange(n0)], data["Xw"][np.arange(n0)])
    np.testing.assert_array_equal(other["Y"][:n0], data["Y"][:n0])


def test_each_series_is_normalized_by_its_own_training_rows(fitted, three):
    s = fitted._series
    assert s["ids"] == ["0", "1", "2"]
    for xn, y in zip(s["x_normalizers"], three):
        n = len(y) - 30
        n_lab = n - 12 - 1 + 1
        n_val = round(0.1 * n_lab)
        last = (n_lab - n_val) - 1 + 12 - 1 + 1                         # the last row a training target touches
        assert xn.transform(np.array([[y[:last + 1].mean()]]))[0, 0] == pytest.approx(0.0, abs=1e-9)


def test_results_come_per_series(fitted, three):
    tails = [s[-50:] for s in three]
    p = fitted.predict(tails)
    assert isinstance(p, list) and [len(a) for a in p] == [50 - 12 + 1] * 3
    one = many.series_model(fitted, 1)
    np.testing.assert_array_equal(p[1], one.predict(tails[1]))
    assert np.allclose(p[1], three[1][-39:].mean(), rtol=0.5)          # in series 1's own units (about 1000)
    d = fitted.predict({"2": tails[2]})
    np.testing.assert_array_equal(d["2"], p[2])
    f = fitted.forecast([s[:-30] for s in three])
    assert [np.shape(v) for v in f] == [(1,)] * 3
    r = fitted.evaluate({"0": tails[0], "1": tails[1]}, verbose=False)
    assert set(r) == {"0", "1"} and r["1"]["rmse"] > 10 * r["0"]["rmse"]     # each in its own units


def test_series_in_one_long_frame(three):
    long = pd.concat([pd.DataFrame({"id": name, "y": s[:-30]}) for name, s in zip("abc", three)])
    m = LSTMModel(CFG, series_column="id").fit(long, "y", verbose=False)
    assert m.info["series_ids"] == ["a", "b", "c"]
    out = m.forecast(long)
    assert set(out) == {"a", "b", "c"}
    with pytest.raises(ConfigError, match="series_column"):
        LSTMModel(CFG, series_column="store").fit(long, "y", verbose=False)


def test_saved_and_pickled_models_keep_every_series(fitted, three, tmp_path):
    tails = [s[-50:] for s in three]
    back = LSTMModel.load(fitted.save(tmp_path / "many.minilstm"))
    for a, b in zip(back.predict(tails), fitted.predict(tails)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(pickle.loads(pickle.dumps(fitted)).predict(tails), fitted.predict(tails)):
        np.testing.assert_array_equal(a, b)


def test_a_tampered_series_block_is_refused(fitted, tmp_path):
    path = fitted.save(tmp_path / "m.minilstm")
    for i, edit in enumerate((lambda s: s.update(ids=["0", "0", "2"]), lambda s: s["mase_scale"].pop(),
                              lambda s: s["x_normalizers"].__setitem__(0, None))):
        bad = rewrite_metadata(path, lambda meta: edit(meta["series"]), tmp_path / f"bad{i}.minilstm")
        with pytest.raises(ModelFileError, match="series"):
            LSTMModel.load(bad)


def test_identity_columns(three):
    m = LSTMModel(CFG, series_identity="onehot").fit({"x": three[0], "y": three[1]}, verbose=False)
    assert m.rnn.input_size == 1 + 2
    assert m.predict({"y": three[1][-20:]})["y"].shape == (9,)


def test_batches_gathered_from_the_rows_train_as_copied_windows_do(three, monkeypatch):
    a = LSTMModel(CFG).fit(three, verbose=False)
    monkeypatch.setattr(training, "GATHER_BYTES", 1)                   # every batch gathered when read
    b = LSTMModel(CFG).fit(three, verbose=False)
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k])
    bw = training.BatchWindows(many.WindowRows(np.zeros((100, 1)), np.arange(80), 12), np.arange(80), np, "float32")
    assert bw.whole is None and bw[np.array([3, 5])].shape == (2, 12, 1)


def test_short_series_are_skipped_with_a_count(three, capsys):
    m = LSTMModel(CFG).fit([three[0], three[1][:10]], verbose=True)
    assert m.info["series_skipped"] == ["1"] and "1 of 2 series skipped" in capsys.readouterr().out
    with pytest.raises(DataError, match="no series"):
        LSTMModel(CFG).fit([three[0][:10], three[1][:10]], verbose=False)


def test_bad_input_is_refused(fitted, three):
    with pytest.raises(ShapeError, match="same columns"):
        LSTMModel(CFG).fit([three[0][:, None], np.c_[three[1], three[1]]], [three[0], three[1]], verbose=False)
    with pytest.raises(ShapeError, match="one y per series"):
        LSTMModel(CFG).fit([three[0], three[1]], [three[0]], verbose=False)
    with pytest.raises(ConfigError, match="many series"):
        LSTMModel(CFG, baseline="ets").fit(three, verbose=False)
    with pytest.raises(ConfigError, match="many series"):
        LSTMModel(CFG, loss="quantile", quantiles=[0.1, 0.9]).fit(three, verbose=False)
    with pytest.raises(InputTypeError, match="3 series"):
        fitted.predict(three[0])                                        # one array: which series?
    with pytest.raises(ShapeError, match="same order"):
        fitted.predict(three[:2])
    with pytest.raises(DataError, match="not one the model was fitted on"):
        fitted.predict({"z": three[0]})
    with pytest.raises(InputTypeError, match="one series"):
        LSTMModel(CFG).fit(three[0], verbose=False).predict(three)
    with pytest.raises(ConfigError, match="validation_data"):
        LSTMModel(CFG).fit(three, validation_data=(three[0],), verbose=False)


def test_known_future_columns_per_series():
    rng = np.random.default_rng(0)
    frames = []
    for s in range(2):
        u = rng.standard_normal(150)
        y = np.r_[0.0, 2 * u[1:]] + 10 * (s + 1)
        frames.append(pd.DataFrame({"y": y, "u": u}))
    m = LSTMModel(dict(CFG, output_steps=2), future_columns=["u"]).fit(frames, "y", verbose=False)
    out = m.forecast([f[:140] for f in frames], future=[f[["u"]][140:142] for f in frames])
    assert [np.shape(o) for o in out] == [(2,), (2,)]


def test_backtest_ensemble_and_sweep_say_they_take_one_series(three):
    from minilstm import LSTMEnsemble
    from minilstm.forecast import backtest, sweep
    for call in (lambda: backtest(CFG, three, start=100, verbose=False),
                 lambda: LSTMEnsemble(CFG, n_members=2).fit(three, verbose=False),
                 lambda: sweep({"hidden_size": [4]}, three, config=CFG, verbose=False)):
        with pytest.raises(InputTypeError, match="one series"):
            call()


def test_a_list_keeps_its_positions_when_a_series_was_skipped(three):
    m = LSTMModel(CFG).fit([three[0][:10], three[1], three[2]], verbose=False)
    assert m._series["ids"] == ["1", "2"]
    with pytest.raises(DataError, match="skipped"):
        m.predict([three[0], three[1][-40:], three[2][-40:]])
    with pytest.raises(ShapeError, match="list of 3"):
        m.predict([three[1][-40:], three[2][-40:]])
    alone = many.series_model(m, 0).predict(three[1][-40:])
    np.testing.assert_array_equal(m.predict({"1": three[1][-40:]})["1"], alone)


def test_rows_without_a_series_id_are_refused():
    long = pd.DataFrame({"id": ["a"] * 60 + [None] * 5 + ["b"] * 60, "y": np.arange(125.0)})
    with pytest.raises(DataError, match="missing on 5 row"):
        LSTMModel(CFG, series_column="id").fit(long, "y", verbose=False)


def test_identity_columns_through_recursive_forecasts_and_files(three, tmp_path):
    m = LSTMModel(CFG, series_identity="onehot").fit(three, verbose=False)
    out = m.forecast([s[:-30] for s in three], steps=3)                 # fed back: identity kept on every step
    assert [np.shape(o) for o in out] == [(3,)] * 3
    path = rewrite_metadata(m.save(tmp_path / "oh.minilstm"),          # the identity columns no longer declared
                            lambda meta: meta["config"].update(series_identity=None))
    with pytest.raises(ModelFileError, match="n_identity"):
        LSTMModel.load(path)


def test_an_identity_too_large_for_memory_is_refused(three, monkeypatch):
    monkeypatch.setattr(many, "ONEHOT_BYTES", 1000)
    with pytest.raises(ConfigError, match="onehot"):
        LSTMModel(CFG, series_identity="onehot").fit(three, verbose=False)
