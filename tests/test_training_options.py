"""The training options that the accuracy benchmark ablates: forget_bias and restore_best."""
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
])
def test_bad_training_options_are_refused_at_construction(key, value, words):
    with pytest.raises(ConfigError, match=key) as e:
        LSTMModel({key: value})
    assert words in str(e.value)
