"""The training options that the accuracy benchmark ablates: forget_bias, restore_best, weight_average."""
import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.datasets import load_electricity
from minilstm.errors import ConfigError


@pytest.fixture(scope="module")
def data():
    ds = load_electricity()
    return ds.data[:700], ds.column("Demand")[:700]


def cfg(**kw):
    return dict(dict(hidden_size=6, num_layers=1, sequence_length=12, batch_size=64, learning_rate=0.02,
                     device="cpu", kernels="numpy", patience=None, dtype="float64"), **kw)


def test_restore_best_keeps_the_best_epoch_and_false_keeps_the_last(data):
    X, y = data
    best = LSTMModel(cfg(epochs=6)).fit(X, y, verbose=False)
    last = LSTMModel(cfg(epochs=6, restore_best=False)).fit(X, y, verbose=False)
    k = best.info["best_epoch"]
    val = [h["val_loss"] for h in best.train_history]
    assert k == int(np.argmin(val)) + 1 and last.info["best_epoch"] == 6
    # training is sequential and seeded: the first k epochs of a 6-epoch run are a k-epoch run
    upto_k = LSTMModel(cfg(epochs=k, restore_best=False)).fit(X, y, verbose=False)
    np.testing.assert_array_equal(best.predict(X), upto_k.predict(X))
    if k != 6:
        assert not np.allclose(best.predict(X), last.predict(X))


def test_forget_bias_is_added_to_the_forget_gate_block_only(data):
    X, y = data
    m0 = LSTMModel(cfg(epochs=1, forget_bias=0.0)).fit(X, y, verbose=False)
    m3 = LSTMModel(cfg(epochs=1, forget_bias=3.0)).fit(X, y, verbose=False)
    # one epoch moves biases by far less than 3: the forget block (first H entries) sits near 3
    H = 6
    b0, b3 = m0.params["lstm.l0.b"], m3.params["lstm.l0.b"]
    assert np.all(b3[:H] - b0[:H] > 2.0) and np.all(np.abs(b3[H:] - b0[H:]) < 1.0)


@pytest.mark.parametrize("key,value,words", [
    ("forget_bias", float("nan"), "finite"), ("forget_bias", "1", "number"), ("forget_bias", 50.0, "[-10.0, 10.0)"),
    ("restore_best", "yes", "True or False"), ("restore_best", None, "True or False"),
    ("weight_average", 1.0, "(0.0, 1.0)"), ("weight_average", 0.0, "(0.0, 1.0)"), ("weight_average", -0.5, "or None"),
    ("weight_average", float("nan"), "finite"), ("weight_average", "0.99", "number"),
    ("weight_average", True, "number"),
])
def test_bad_training_options_are_refused_at_construction(key, value, words):
    with pytest.raises(ConfigError, match=key) as e:
        LSTMModel({key: value})
    assert words in str(e.value)


def test_weight_average_is_the_ramped_moving_average_of_the_weights():
    from minilstm.forecast.training import WeightAverage
    w = {"a": np.array([1.0, -2.0]), "b": np.array([[0.5]])}
    avg = WeightAverage(w, decay=0.9)
    expect = {k: v.copy() for k, v in w.items()}
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        for k in w:
            w[k][...] = rng.standard_normal(w[k].shape)
        avg.update(w)
        d = min(0.9, (1 + n) / (10 + n))                      # the ramp, then the decay
        for k in w:
            expect[k] = d * expect[k] + (1 - d) * w[k]
            np.testing.assert_allclose(avg.avg[k], expect[k], rtol=1e-13)
    assert avg.avg["a"] is not w["a"]                         # its own arrays: the weights are only read


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_weight_average_is_bitwise_the_numpy_lines(monkeypatch, dtype):
    """The one-call compiled update (all arrays at once) rounds as ``a *= d; a += (1 - d) * w`` does, so seeded
    training is the same with or without it; arrays it cannot take (mixed dtypes) take the NumPy lines."""
    pytest.importorskip("numba")
    from minilstm.forecast.training import WeightAverage
    from minilstm.optim import compiled_passes
    rng = np.random.default_rng(3)
    shapes = {"W": (9, 16), "b": (16,), "s": (1,)}
    start = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    steps = [{k: (rng.standard_normal(s) * 10.0 ** rng.integers(-4, 3)).astype(dtype) for k, s in shapes.items()}
             for _ in range(15)]
    kept = []
    for env in ("", "1"):
        monkeypatch.setenv("MINILSTM_NUMPY_OPTIM", env)
        assert (compiled_passes(list(start.values()), list(start.values())) is None) == (env == "1")
        avg = WeightAverage(start, decay=0.97)
        for w in steps:
            avg.update(w)
        kept.append(avg.avg)
    for k in shapes:
        assert kept[0][k].dtype == dtype
        np.testing.assert_array_equal(kept[0][k], kept[1][k])
    assert not np.array_equal(kept[0]["W"], start["W"])
    mixed = {"W": start["W"], "x": np.zeros(3, np.float64 if dtype == np.float32 else np.float32)}
    monkeypatch.setenv("MINILSTM_NUMPY_OPTIM", "")
    assert compiled_passes(list(mixed.values()), list(mixed.values())) is None
    avg = WeightAverage(mixed, decay=0.9)
    avg.update({"W": steps[0]["W"], "x": np.ones(3, mixed["x"].dtype)})
    np.testing.assert_allclose(avg.avg["x"], (1 - min(0.9, 2 / 11)) * 1.0, rtol=1e-6)


def test_weight_average_is_what_is_validated_and_kept(data, monkeypatch):
    """With weight_average the kept weights are the average at the best (or last) epoch, not the live weights;
    with None they are the live weights, as before the option existed."""
    from minilstm.forecast import training
    X, y = data
    seen = []
    real_update = training.WeightAverage.update

    def spy(self, params):
        real_update(self, params)
        seen.append(({k: v.copy() for k, v in self.avg.items()}, {k: v.copy() for k, v in params.items()}))
    monkeypatch.setattr(training.WeightAverage, "update", spy)
    m = LSTMModel(cfg(epochs=4, weight_average=0.9, restore_best=False)).fit(X, y, verbose=False)
    per_epoch = len(seen) // 4
    last_avg, last_live = seen[-1]
    for k, v in m.params.items():
        np.testing.assert_array_equal(v, last_avg[k])
    assert any(not np.array_equal(m.params[k], last_live[k]) for k in m.params)
    best = LSTMModel(cfg(epochs=4, weight_average=0.9)).fit(X, y, verbose=False)
    k = best.info["best_epoch"]
    kept = seen[len(seen) // 2 + k * per_epoch - 1][0]           # the second fit's average after epoch k
    for name, v in best.params.items():
        np.testing.assert_array_equal(v, kept[name])
    seen.clear()
    plain = LSTMModel(cfg(epochs=2, weight_average=None, restore_best=False)).fit(X, y, verbose=False)
    assert seen == []                                            # no average kept or updated
    again = LSTMModel(cfg(epochs=2, weight_average=None, restore_best=False)).fit(X, y, verbose=False)
    np.testing.assert_array_equal(plain.predict(X), again.predict(X))


def test_weight_average_round_trips_and_old_files_load_without_it(data, tmp_path):
    """A file written before the option existed was trained without it: it loads with weight_average None."""
    import json
    import zipfile
    X, y = data
    m = LSTMModel(cfg(epochs=1, weight_average=0.95)).fit(X, y, verbose=False)
    path, old = str(tmp_path / "new.minilstm"), str(tmp_path / "old.minilstm")
    m.save(path)
    assert LSTMModel.load(path).config["weight_average"] == 0.95
    assert LSTMModel(cfg()).config["weight_average"] == 0.99          # the default
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(old, "w") as out:
        for name in z.namelist():
            data_ = z.read(name)
            if name == "metadata.json":
                meta = json.loads(data_)
                assert meta["config"].pop("weight_average") == 0.95
                data_ = json.dumps(meta).encode()
            out.writestr(name, data_)
    back = LSTMModel.load(old)
    assert back.config["weight_average"] is None
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
