"""Hostile input at the model/config boundary, and the transactional ``fit``.

Every case must raise a minilstm error of the stated class whose message names the
problem; a failed ``fit`` must leave the model exactly as it was (weights, normalizers,
config, history, output shapes), and an unfitted model unfitted.
"""
import math

import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import (
    ConfigError,
    DataError,
    InputTypeError,
    MiniLSTMError,
    NotFittedError,
    ShapeError,
    TrainingDivergedError,
)

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
    import minilstm.forecast.fitting as mod  # where fit's training run builds its network

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


# ---- hostile cases at the model/config boundary --------------------------------------------------------------------
def frame(**cols):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(cols)


def named():
    """A model fitted on a DataFrame with columns a, b."""
    return LSTMModel(CFG).fit(frame(a=s, b=X2[:, 1]), s, verbose=False)


def y_other_index():
    pd = pytest.importorskip("pandas")
    return pd.Series(s, index=np.arange(80) + 1000)


def dates(n=80):
    pd = pytest.importorskip("pandas")
    return pd.date_range("2020-01-01", periods=n, freq="D")


inf, nan = float("inf"), float("nan")
CASES = [
    # (name, action, error class, words the message must contain)
    # -- config values: non-finite, negative, out of range, too large
    ("lr inf", lambda: LSTMModel(learning_rate=inf), ConfigError, ["learning_rate", "finite"]),
    ("lr negative", lambda: LSTMModel(learning_rate=-0.1), ConfigError, ["learning_rate", "(0.0, inf)"]),
    ("lr string", lambda: LSTMModel(learning_rate="1e-3"), ConfigError, ["learning_rate", "'1e-3'"]),
    ("weight_decay inf", lambda: LSTMModel(weight_decay=inf), ConfigError, ["weight_decay", "finite"]),
    ("weight_decay negative", lambda: LSTMModel(weight_decay=-1e-4), ConfigError, ["weight_decay", "[0.0, inf)"]),
    ("min_delta inf", lambda: LSTMModel(min_delta=inf), ConfigError, ["min_delta", "finite"]),
    ("min_delta nan", lambda: LSTMModel(min_delta=nan), ConfigError, ["min_delta"]),
    ("clip_norm zero", lambda: LSTMModel(clip_norm=0), ConfigError, ["clip_norm", "(0.0, inf)"]),
    ("clip_norm negative", lambda: LSTMModel(clip_norm=-1.0), ConfigError, ["clip_norm", "-1.0"]),
    ("clip_norm inf", lambda: LSTMModel(clip_norm=inf), ConfigError, ["clip_norm", "finite", "or None"]),
    ("dropout nan", lambda: LSTMModel(dropout=nan), ConfigError, ["dropout", "[0.0, 1.0)"]),
    ("num_layers 10**9", lambda: LSTMModel(num_layers=10 ** 9), ConfigError, ["num_layers", "<= 64"]),
    ("hidden_size 10**6", lambda: LSTMModel(hidden_size=10 ** 6), ConfigError, ["hidden_size", "<= 16,384"]),
    ("sequence_length 10**9", lambda: LSTMModel(sequence_length=10 ** 9), ConfigError,
     ["sequence_length", "<= 1,000,000"]),
    ("epochs 10**12", lambda: LSTMModel(epochs=10 ** 12), ConfigError, ["epochs", "<="]),
    ("batch_size 0", lambda: LSTMModel(batch_size=0), ConfigError, ["batch_size", ">= 1"]),
    ("seed negative", lambda: LSTMModel(seed=-1), ConfigError, ["seed", ">= 0"]),
    ("patience 0", lambda: LSTMModel(patience=0), ConfigError, ["patience", ">= 1", "or None"]),
    ("horizon negative", lambda: LSTMModel(horizon=-1), ConfigError, ["horizon", ">= 0"]),
    ("season 0", lambda: LSTMModel(season=0), ConfigError, ["season", ">= 1"]),
    ("output_steps float", lambda: LSTMModel(output_steps=2.0), ConfigError, ["output_steps", "integer"]),
    ("loss l1", lambda: LSTMModel(loss="l1"), ConfigError, ["loss", "'mae'"]),
    ("kernels fast", lambda: LSTMModel(kernels="fast"), ConfigError, ["kernels", "'numba'"]),
    ("shuffle string", lambda: LSTMModel(shuffle="yes"), ConfigError, ["shuffle", "True or False"]),
    ("dtype int", lambda: LSTMModel(dtype="int32"), ConfigError, ["dtype", "float64"]),
    ("normalize unknown strategy", lambda: LSTMModel(normalize={"strategy": "nope"}), ConfigError,
     ["config['normalize']", "nope"]),
    ("normalize pct_change", lambda: LSTMModel(normalize="pct_change"), ConfigError,
     ["pct_change", "predecessor"]),
    ("normalize list", lambda: LSTMModel(normalize=["zscore"]), ConfigError, ["config['normalize']", "strategy"]),
    ("target_columns negative", lambda: LSTMModel(target_columns=[-1]), ConfigError, ["target_columns", "indices"]),
    ("target_columns repeated", lambda: LSTMModel(target_columns=[0, 0]), ConfigError, ["repeated"]),
    ("network too large for its inputs", lambda: LSTMModel({**CFG, "hidden_size": 16384, "num_layers": 4}).fit(
        X2, s), ConfigError, ["parameters", "hidden_size"]),
    # -- keys: other libraries' names, fit arguments, non-string keys
    ("key learning_rate_init", lambda: LSTMModel(learning_rate_init=0.01), ConfigError,
     ["did you mean 'learning_rate'"]),
    ("key window", lambda: LSTMModel(window=24), ConfigError, ["did you mean 'sequence_length'"]),
    ("key n_layers", lambda: LSTMModel(n_layers=2), ConfigError, ["did you mean 'num_layers'"]),
    ("key units", lambda: LSTMModel(units=32), ConfigError, ["did you mean 'hidden_size'"]),
    ("key early_stopping_patience", lambda: LSTMModel(early_stopping_patience=3), ConfigError,
     ["did you mean 'patience'"]),
    ("key max_norm", lambda: LSTMModel(max_norm=1.0), ConfigError, ["did you mean 'clip_norm'"]),
    ("key batch", lambda: LSTMModel(batch=16), ConfigError, ["did you mean 'batch_size'"]),
    ("key Hidden_Size", lambda: LSTMModel({"Hidden_Size": 8}), ConfigError, ["did you mean 'hidden_size'"]),
    ("key 3", lambda: LSTMModel({3: 8}), ConfigError, ["unknown config key", "3"]),
    ("key validation_split and lr", lambda: LSTMModel({"validation_split": 0.2, "lr": 1e-3}), ConfigError,
     ["did you mean 'learning_rate'", "fit() arguments"]),
    ("config a string", lambda: LSTMModel("hidden_size=8"), ConfigError, ["dict", "str"]),
    # -- fit arguments
    ("validation_split nan", lambda: LSTMModel(CFG).fit(X2, s, validation_split=nan), ConfigError,
     ["validation_split", "[0, 1)"]),
    ("validation_split negative", lambda: LSTMModel(CFG).fit(X2, s, validation_split=-0.1), ConfigError,
     ["validation_split"]),
    ("validation_split string", lambda: LSTMModel(CFG).fit(X2, s, validation_split="0.1"), ConfigError,
     ["validation_split", "'0.1'"]),
    # -- data: types, dates, non-numbers
    ("X a generator", lambda: LSTMModel(CFG).fit((v for v in s), s), InputTypeError, ["X", "array-like"]),
    ("X a set", lambda: LSTMModel(CFG).fit(set(s), s), InputTypeError, ["X", "set"]),
    ("X datetime64 array", lambda: LSTMModel(CFG).fit(np.arange(80).astype("datetime64[D]"), s), DataError,
     ["dates", "nanoseconds", "index"]),
    ("X timedelta64 array", lambda: LSTMModel(CFG).fit(np.arange(80).astype("timedelta64[s]"), s), DataError,
     ["durations"]),
    ("X with a datetime column", lambda: LSTMModel(CFG).fit(frame(t=dates(), a=s), s), DataError,
     ["date/time", "'t'", "use it as the index"]),
    ("X with a tz-aware datetime column", lambda: LSTMModel(CFG).fit(frame(t=dates().tz_localize("UTC"), a=s), s),
     DataError, ["date/time", "'t'"]),
    ("X object array of dates", lambda: LSTMModel(CFG).fit(np.array(list(dates().date), dtype=object), s),
     DataError, ["dates", "index"]),
    ("X categorical column", lambda: LSTMModel(CFG).fit(frame(a=s, c=np.array(["u", "v"] * 40)).astype(
        {"c": "category"}), s), DataError, ["non-numeric", "'c'"]),
    ("X duplicate column names", lambda: LSTMModel(CFG).fit(frame(a=s, b=s).set_axis(["a", "a"], axis=1), s),
     DataError, ["duplicate", "'a'"]),
    ("X nullable ints with NA", lambda: LSTMModel(CFG).fit(frame(a=s).assign(
        n=__import__("pandas").array([1, None] * 40, dtype="Int64")), s), DataError, ["NaN", "row 1"]),
    ("y bytes", lambda: LSTMModel(CFG).fit(X2, b"abc"), InputTypeError, ["y", "bytes"]),
    # -- pairing X and y
    ("y Series with another index", lambda: LSTMModel(CFG).fit(frame(a=s), y_other_index()), DataError,
     ["different indexes", "position 0", "reindex"]),
    ("y index shuffled", lambda: LSTMModel(CFG).fit(frame(a=s), frame(y=s).iloc[::-1]["y"]), DataError,
     ["different indexes"]),
    ("target_columns with a different y", lambda: LSTMModel({**CFG, "target_columns": [0]}).fit(X2, s * 2),
     ConfigError, ["target_columns", "differs", "y=None"]),
    # -- predict, forecast, evaluate, gate_activations
    ("predict missing a named column", lambda: named().predict(frame(a=s)), DataError, ["missing ['b']", "a"]),
    ("predict with an extra column", lambda: named().predict(frame(a=s, b=s, c=s)), DataError,
     ["unexpected ['c']"]),
    ("predict renamed columns", lambda: named().predict(frame(x=s, y=s)), DataError, ["missing ['a', 'b']"]),
    ("evaluate y with another index", lambda: named().evaluate(frame(a=s, b=s), y_other_index()), DataError,
     ["different indexes"]),
    ("predict steps 10**9", lambda: fitted().predict(X2, steps=10 ** 9), ConfigError, ["steps", "100,000"]),
    ("forecast steps True", lambda: fitted().forecast(X2, steps=True), ConfigError, ["steps", "True"]),
    ("forecast on a datetime array", lambda: fitted().forecast(np.arange(80).astype("datetime64[D]")), DataError,
     ["X_history", "dates"]),
    ("gate_activations before fit", lambda: LSTMModel(CFG).gate_activations(X2), NotFittedError, ["fit"]),
    ("gate_activations window out of range", lambda: fitted().gate_activations(X2, window=76), ConfigError,
     ["window", "[-76, 75]"]),
    ("gate_activations on a 3-D X", lambda: fitted().gate_activations(np.zeros((5, 5, 2))), ShapeError,
     ["1-D", "2-D"]),
]


@pytest.mark.parametrize("name,action,exc,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_clear_minilstm_error(name, action, exc, words):
    with pytest.raises(MiniLSTMError) as e:
        action()
    assert isinstance(e.value, exc), f"{name}: {type(e.value).__name__} is not a {exc.__name__}: {e.value}"
    for w in words:
        assert w in str(e.value), f"{name}: {w!r} not in {str(e.value)!r}"


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40


# ---- properties: random shapes and values ----------------------------------------------------------------------------
hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

TINY = {"hidden_size": 3, "num_layers": 1, "epochs": 1, "sequence_length": 3, "device": "cpu", "batch_size": 16}
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0, -1.0, 1e300, -1e300, 5e-324]))
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(0, 40), st.integers(1, 3)), elements=values),
       y_1d=st.booleans(), split=st.sampled_from([0.0, 0.2]))
def test_fit_then_predict_is_a_clear_error_or_finite_output_of_the_right_shape(X, y_1d, split):
    y = X[:, 0] if y_1d else X[:, :2]
    m = LSTMModel(TINY)
    try:
        m.fit(X, y, validation_split=split, verbose=False)
    except MiniLSTMError:
        assert not m.is_fitted                               # a refused fit leaves nothing behind
        return
    try:
        p = m.predict(X)
    except DataError as e:                                   # e.g. a value far outside the training range
        assert "row" in str(e)
        return
    assert p.shape == ((len(X) - 2,) if y_1d else (len(X) - 2, y.shape[1]))
    assert np.isfinite(p).all()


@pytest.fixture(scope="module")
def small_model():
    return LSTMModel(TINY).fit(X2, s, verbose=False)


@PROPERTY
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(0, 12), st.integers(1, 3)), elements=st.floats(-1e6, 1e6)),
       steps=st.integers(-2, 4))
def test_predict_on_random_input_is_a_clear_error_or_finite_output(small_model, X, steps):
    try:
        p = small_model.predict(X, steps=steps)
    except MiniLSTMError as e:
        assert str(e)
        return
    assert X.shape[1] == 2 and steps == 1                     # 2 columns fitted; no recursion with covariates
    assert p.shape == (len(X) - 2,) and np.isfinite(p).all()


config_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 10 ** 10), st.floats(allow_nan=True),
                          st.text(max_size=6), st.lists(st.integers(-1, 3), max_size=3))


@PROPERTY
@given(cfg=st.dictionaries(st.sampled_from(sorted(__import__("minilstm").forecast.DEFAULTS)), config_values,
                           max_size=4))
def test_random_configs_are_refused_clearly_or_valid_and_saveable(cfg):
    import json
    try:
        m = LSTMModel(cfg)
    except ConfigError as e:
        assert "config" in str(e)
        return
    json.dumps(m.config, allow_nan=False)                 # finite plain values: the config is saved as JSON
    for k in ("learning_rate", "weight_decay", "min_delta", "dropout"):
        assert math.isfinite(m.config[k])


MORE_CASES = [
    ("y numeric strings", lambda: LSTMModel(CFG).fit(X2, np.array(["1.5"] * 80)), DataError,
     ["text", "non-numeric", "dtype=float"]),
    ("predict a Series named otherwise", lambda: LSTMModel(CFG).fit(frame(a=s), s, verbose=False).predict(
        frame(z=s)["z"]), DataError, ["missing ['a']", "unexpected ['z']"]),
    ("evaluate season '7'", lambda: fitted().evaluate(X2, s, season="7"), ConfigError, ["season", "'7'"]),
    ("evaluate season -1", lambda: fitted().evaluate(X2, s, season=-1), ConfigError, ["season", ">= 1"]),
]


@pytest.mark.parametrize("name,action,exc,words", MORE_CASES, ids=[c[0] for c in MORE_CASES])
def test_more_hostile_input(name, action, exc, words):
    test_hostile_input_gets_a_clear_minilstm_error(name, action, exc, words)


def test_a_named_series_matches_the_column_it_was_fitted_on():
    m = LSTMModel(CFG).fit(frame(a=s), s, verbose=False)
    np.testing.assert_array_equal(m.predict(frame(a=s)["a"]), m.predict(s))
