"""Hostile input at the model/config boundary, and the transactional ``fit``.

Every case must raise a minilstm error of the stated class whose message names the
problem; a failed ``fit`` must leave the model exactly as it was (weights, normalizers,
config, history, output shapes), and an unfitted model unfitted.
"""
import math

import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import (ConfigError, DataError, InputTypeError, MiniLSTMError, NotFittedError, ShapeError,
                             TrainingDivergedError)

CFG = {"hidden_size": 4, "num_layers": 1, "epochs": 1, "sequence_length": 5, "device": "cpu"}
s = np.sin(np.arange(80) / 4.0) * 3 + 10
X2 = np.column_stack([s, np.cos(np.arange(80) / 3.0)])


def fitted(**cfg):
    return LSTMModel({**CFG, **cfg}).fit(X2, s, verbose=False)


def state(m):
    """Everything a fit may change, as comparable plain values."""
    return {"params": {k: np.array(v) for k, v in m.params.items()} if m.is_fitted else None,
            "config": dict(m.config), "history": list(m.train_history), "info": dict(m.info),
            "is_fitted": m.is_fitted, "x_norm": m.x_normalizer.to_dict() if m.x_normalizer else None,
            "y_norm": m.y_normalizer.to_dict() if m.y_normalizer else None}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if k == "params" and a[k] is not None:
            assert a[k].keys() == b[k].keys()
            for name in a[k]:
                np.testing.assert_array_equal(a[k][name], b[k][name])
        else:
            assert a[k] == b[k], k


# ---- transactional fit: the reproductions -----------------------------------------------------------------
def test_failed_refit_with_log_normalizer_leaves_the_model_as_it_was():
    A = np.exp(np.sin(np.arange(80) / 4.0)) * 10
    m = LSTMModel({**CFG, "normalize": "log"}).fit(A, A, verbose=False)
    before, pred = state(m), m.predict(A)
    B = np.concatenate([5 + np.sin(np.arange(77)), [-50.0, -50.0, -50.0]])   # validation rows below the log shift
    with pytest.raises(DataError, match="normalizer") as e:
        m.fit(B, B, verbose=False)
    assert "validation" in str(e.value)
    assert_same_state(before, state(m))
    np.testing.assert_array_equal(m.predict(A), pred)


def test_infinite_learning_rate_is_refused_at_construction_and_when_edited_before_fit():
    with pytest.raises(ConfigError, match="learning_rate"):
        LSTMModel(learning_rate=float("inf"))
    m = LSTMModel(CFG)
    m.config["learning_rate"] = float("inf")
    with pytest.raises(ConfigError, match="learning_rate.*finite"):
        m.fit(X2, s, verbose=False)
    assert not m.is_fitted and m.train_history == [] and m.lstm is None


def test_failed_refit_with_2d_y_keeps_the_output_shape():
    m = fitted()
    shape, before = m.predict(X2).shape, state(m)
    bad_y = np.column_stack([s, s])
    bad_y[70, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        m.fit(X2, bad_y, verbose=False)
    assert m.predict(X2).shape == shape == (76,)
    assert_same_state(before, state(m))


def test_failure_after_normalizers_are_fitted_changes_nothing(monkeypatch):
    m = fitted()
    before, pred = state(m), m.predict(X2)
    import minilstm.forecast.model as mod

    def no_device(*a, **k):
        raise MemoryError("simulated: the new network does not fit in memory")
    monkeypatch.setattr(mod, "build_network", no_device)
    with pytest.raises(MemoryError):
        m.fit(X2 * 100 + 7, s * 3, verbose=False)             # new normalizers would differ
    assert_same_state(before, state(m))
    np.testing.assert_array_equal(m.predict(X2), pred)


def diverge_at(monkeypatch, call):
    import minilstm.forecast.training as tr
    real, calls = tr.LOSSES["mse"], {"n": 0}

    def poisoned(pred, target):
        calls["n"] += 1
        loss, g = real(pred, target)
        return (float("nan"), g) if calls["n"] >= call else (loss, g)
    monkeypatch.setitem(tr.LOSSES, "mse", poisoned)


def test_divergence_in_the_first_epoch_leaves_an_untrained_model_unfitted(monkeypatch):
    diverge_at(monkeypatch, 1)
    m = LSTMModel(CFG)
    with pytest.raises(TrainingDivergedError, match="not fitted") as e:
        m.fit(X2, s, verbose=False)
    assert "epoch 1, batch 1" in str(e.value) and "learning rate" in str(e.value)
    assert not m.is_fitted and m.train_history == []
    with pytest.raises(NotFittedError):
        m.predict(X2)


def test_divergence_in_the_first_epoch_of_a_refit_keeps_the_previous_model(monkeypatch):
    m = fitted()
    before, pred = state(m), m.predict(X2)
    diverge_at(monkeypatch, 1)
    with pytest.raises(TrainingDivergedError, match="fitted before"):
        m.fit(X2[::-1].copy(), s[::-1].copy(), verbose=False)
    assert_same_state(before, state(m))
    np.testing.assert_array_equal(m.predict(X2), pred)


def test_divergence_after_an_epoch_gives_the_new_usable_model(monkeypatch):
    m = fitted(seed=5)
    old_params = {k: np.array(v) for k, v in m.params.items()}
    m.config.update(epochs=5, batch_size=32, seed=6)
    # 67 training windows in batches of 32: 3 loss calls per epoch, then 1 for validation; call 6 is epoch 2, batch 2
    diverge_at(monkeypatch, 6)
    with pytest.raises(TrainingDivergedError, match="usable") as e:
        m.fit(X2, s, verbose=False)
    assert "epoch 2, batch 2" in str(e.value) and "(epoch 1)" in str(e.value)
    assert m.is_fitted and m.info["best_epoch"] == 1 and len(m.train_history) == 1
    assert m.config["seed"] == 6
    assert any(not np.array_equal(old_params[k], np.array(v)) for k, v in m.params.items())
    assert np.isfinite(m.predict(X2)).all() and m.predict(X2).shape == (76,)


def test_interrupt_before_the_first_epoch_changes_nothing(monkeypatch):
    m = fitted()
    before = state(m)
    import minilstm.forecast.training as tr

    def interrupt(g, n):
        raise KeyboardInterrupt
    monkeypatch.setattr(tr, "clip_grad_norm", interrupt)
    with pytest.raises(KeyboardInterrupt):
        m.fit(X2, s * 2, verbose=False)
    assert_same_state(before, state(m))


def test_a_successful_refit_replaces_everything():
    m = fitted()
    m.fit(s, s, verbose=False)
    assert m.n_features == 1 and m.predict(s).shape == (76,)
    assert m.x_normalizer.state is not None and m.info["n_rows"] == 80
