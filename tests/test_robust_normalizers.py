"""Robustness of DataNormalizer: every spelling of a setting, hostile settings, hostile data over the whole
float64 range, hostile state dicts, and property tests (finite and invertible, or a clear refusal)."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minilstm import DataNormalizer, LSTMModel
from minilstm.errors import ConfigError, DataError, NotFittedError, ShapeError
from minilstm.forecast.normalizer import LAMBDA_RANGE, ROW_WISE, STRATEGIES, parse_spec

BIG = np.finfo(np.float64).max


# ---- the spec's key and its aliases ---------------------------------------------------------------
FORMS = {
    "dict strategy": lambda s: DataNormalizer({"strategy": s}),
    "dict method": lambda s: DataNormalizer({"method": s}),
    "dict both equal": lambda s: DataNormalizer({"strategy": s, "method": s}),
    "bare string": lambda s: DataNormalizer(s),
    "keyword strategy": lambda s: DataNormalizer(strategy=s),
    "keyword method": lambda s: DataNormalizer(method=s),
    "config keyword": lambda s: DataNormalizer(config={"strategy": s}),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_spelling_of_every_strategy(form, strategy):
    n = FORMS[form](strategy)
    assert n.strategy == strategy and n.method == strategy
    X = np.column_stack([np.linspace(1.0, 3.0, 30), np.exp(np.linspace(0, 2, 30))])
    Y = n.fit_transform(X)
    d = n.to_dict()
    assert d["strategy"] == strategy and "method" not in d
    np.testing.assert_allclose(DataNormalizer.from_dict(d).transform(X), Y)
    old = {("method" if k == "strategy" else k): v for k, v in d.items()}          # a dict from an older file
    np.testing.assert_allclose(DataNormalizer.from_dict(old).inverse_transform(Y), X, rtol=1e-9)


def test_parse_spec_returns_the_canonical_dict():
    assert parse_spec({"method": "minmax", "feature_range": [-1, 1]}) == \
        {"strategy": "minmax", "feature_range": (-1.0, 1.0), "power_method": "yeo-johnson"}
    assert parse_spec("power", power_method="box-cox")["power_method"] == "box-cox"
    assert parse_spec(None)["strategy"] == "zscore"


# ---- hostile settings -------------------------------------------------------------------------------
BAD_SPECS = [
    ("strategy and method differ", {"strategy": "minmax", "method": "zscore"}, {},
     ["two strategies", "minmax", "zscore"]),
    ("sklearn name", {"strategy": "standard"}, {}, ["'standard'", "did you mean", "zscore"]),
    ("box-cox as a strategy", {"strategy": "box-cox"}, {}, ["'power'", "power_method", "box-cox"]),
    ("boxcox spelled together", {"strategy": "boxcox"}, {}, ["'power_method': 'box-cox'"]),
    ("typo", {"strategy": "minmaxx"}, {}, ["minmaxx", "did you mean 'minmax'"]),
    ("strategy None", {"strategy": None}, {}, ["unknown normalization strategy", "None"]),
    ("strategy a number", {"strategy": 3}, {}, ["unknown normalization strategy", "3"]),
    ("reversed range", {"strategy": "minmax", "feature_range": (1, 0)}, {}, ["feature_range", "reversed", "swap"]),
    ("equal bounds", {"strategy": "minmax", "feature_range": (2, 2)}, {}, ["feature_range", "equal"]),
    ("infinite bound", {"strategy": "minmax", "feature_range": (0, math.inf)}, {}, ["feature_range", "finite"]),
    ("NaN bound", {"strategy": "minmax", "feature_range": (math.nan, 1)}, {}, ["feature_range", "finite"]),
    ("one bound", {"feature_range": (0,)}, {}, ["feature_range", "pair"]),
    ("string range", {"feature_range": "01"}, {}, ["feature_range", "pair"]),
    ("bool bound", {"feature_range": (True, 2)}, {}, ["feature_range", "real numbers"]),
    ("overflowing width", {"feature_range": (-BIG, BIG)}, {}, ["feature_range", "width"]),
    ("too narrow", {"feature_range": (1e16, 1e16 + 2)}, {}, ["feature_range", "width"]),
    ("power_method typo", {"strategy": "power", "power_method": "boxcox"}, {}, ["power_method", "box-cox"]),
    ("unknown key", {"mthod": "zscore"}, {}, ["'mthod'", "did you mean 'method'"]),
    ("non-string key", {1: "zscore"}, {}, ["unknown DataNormalizer key", "1"]),
    ("not a dict or name", 5, {}, ["strategy name", "int"]),
    ("keyword conflicts with dict", {"strategy": "zscore"}, {"strategy": "minmax"}, ["'strategy'", "twice"]),
    ("keyword method conflicts", {"strategy": "zscore"}, {"method": "robust"}, ["two strategies"]),
    ("unknown keyword", None, {"stratgy": "zscore"}, ["'stratgy'", "did you mean 'strategy'"]),
]


@pytest.mark.parametrize("what,spec,kwargs,words", BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_settings_are_refused_at_construction(what, spec, kwargs, words):
    for make in (lambda: DataNormalizer(spec, **kwargs), lambda: parse_spec(spec, **kwargs)):
        with pytest.raises(ConfigError) as e:
            make()
        for w in words:
            assert w in str(e.value), (what, str(e.value))


@pytest.mark.parametrize("normalize,words", [
    ({"strategy": "minmax", "feature_range": (1, 0)}, ["feature_range"]),
    ({"strategy": "minmax", "method": "zscore"}, ["two strategies"]),
    ({"strategy": "diff"}, ["diff", "predecessor"]),
    ({"strategy": "minmax", "feature_range": (0, math.inf)}, ["finite"]),
])
def test_model_config_refuses_bad_normalize_at_construction(normalize, words):
    with pytest.raises(ConfigError) as e:
        LSTMModel({"normalize": normalize})
    assert all(w in str(e.value) for w in words), str(e.value)


def test_model_accepts_the_spec_key():
    s = np.sin(np.arange(60) / 3.0) * 5 + 20
    m = LSTMModel({"normalize": {"strategy": "minmax"}, "hidden_size": 3, "num_layers": 1, "epochs": 1,
                   "sequence_length": 4, "device": "cpu"}).fit(s, s, verbose=False)
    assert m.x_normalizer.strategy == "minmax" and np.isfinite(m.predict(s)).all()


# ---- hostile data -------------------------------------------------------------------------------------
def _fitted(strategy, X, **kw):
    return DataNormalizer(strategy, **kw).fit(X)


BAD_DATA = [
    ("NaN in fit", lambda: DataNormalizer().fit(np.array([1.0, np.nan])), DataError, ["NaN", "row 1"]),
    ("Inf in transform", lambda: _fitted("zscore", np.ones((3, 2))).transform(np.array([[1, 1], [1, np.inf]])),
     DataError, ["column 1", "Inf"]),
    ("NaN in inverse", lambda: _fitted("minmax", np.arange(4.0)).inverse_transform(np.array([0.5, np.nan])),
     DataError, ["inverse_transform", "NaN"]),
    ("strings", lambda: DataNormalizer().fit(np.array(["1", "2"])), DataError, ["numeric"]),
    ("complex", lambda: DataNormalizer().fit(np.array([1 + 2j, 3j])), DataError, ["numeric", "complex"]),
    ("datetimes", lambda: DataNormalizer().fit(np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]")),
     DataError, ["numeric", "date"]),
    ("None", lambda: DataNormalizer().fit(None), DataError, ["numeric", "NoneType"]),
    ("int beyond float64", lambda: DataNormalizer().fit([10 ** 400, 1]), DataError, ["too large for float64"]),
    ("masked entries", lambda: DataNormalizer().fit(np.ma.masked_array([1.0, 2.0], mask=[0, 1])), DataError,
     ["masked", "filled"]),
    ("ragged rows", lambda: DataNormalizer().fit([[1.0, 2.0], [3.0]]), DataError, ["could not read"]),
    ("3-D", lambda: DataNormalizer().fit(np.ones((2, 2, 2))), ShapeError, ["2-D", "(2, 2, 2)"]),
    ("empty", lambda: DataNormalizer().fit(np.ones((0, 3))), DataError, ["empty"]),
    ("no columns", lambda: DataNormalizer().fit(np.ones((4, 0))), DataError, ["empty"]),
    ("other column count", lambda: _fitted("zscore", np.ones((4, 2))).transform(np.ones((4, 3))), ShapeError,
     ["fitted on 2 column(s)", "got 3"]),
    ("not fitted", lambda: DataNormalizer().inverse_transform(np.ones(3)), NotFittedError, ["fit"]),
    ("zscore far outside", lambda: _fitted("zscore", np.array([0.0, 1e-300])).transform(np.array([1e300])),
     DataError, ["column 0", "non-finite", "too far"]),
    ("inverse overflows", lambda: _fitted("maxabs", np.array([1e300, -1e300])).inverse_transform(np.array([1e10])),
     DataError, ["inverse_transform", "non-finite"]),
    ("minmax inverse overflows", lambda: _fitted("minmax", np.array([0.0, 1e308])).inverse_transform(
        np.array([3.0])), DataError, ["non-finite", "column 0"]),
    ("log below the shift", lambda: _fitted("log", np.array([1.0, 2.0])).transform(np.array([-1.0])), DataError,
     ["shift", "refit"]),
    ("log at the float limit", lambda: DataNormalizer("log").fit(np.array([-BIG, 1.0])), DataError,
     ["float64 limit", "rescale"]),
    ("diff overflows", lambda: DataNormalizer("diff").fit(np.array([BIG, -BIG])), DataError,
     ["diff", "overflows", "column 0"]),
    ("pct_change zero", lambda: DataNormalizer("pct_change").fit(np.array([1.0, 0.0])), DataError,
     ["nonzero", "row 1"]),
    ("pct_change overflows", lambda: DataNormalizer("pct_change").fit(np.array([1e-300, 1e300])), DataError,
     ["ratio", "overflows"]),
    ("box-cox negative", lambda: DataNormalizer("power", power_method="box-cox").fit(np.array([1.0, -2.0])),
     DataError, ["strictly positive", "yeo-johnson"]),
    ("box-cox transform of zero", lambda: _fitted("power", np.array([1.0, 2.0, 4.0]), power_method="box-cox")
     .transform(np.array([0.0])), DataError, ["strictly positive"]),
]


@pytest.mark.parametrize("what,call,err,words", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data_is_refused_clearly(what, call, err, words):
    with pytest.raises(err) as e:
        call()
    for w in words:
        assert w in str(e.value), (what, str(e.value))


def test_the_error_names_a_dataframe_column():
    pd = pytest.importorskip("pandas")
    n = DataNormalizer("zscore").fit(pd.DataFrame({"load": [1.0, 2.0], "temp": [3.0, 4.0]}))
    with pytest.raises(DataError, match="column 'temp'"):
        n.transform(pd.DataFrame({"load": [1.0, 2.0], "temp": [3.0, np.nan]}))


# ---- hostile state dicts --------------------------------------------------------------------------
def _state(**edit):
    d = DataNormalizer("zscore").fit(np.array([[1.0, 2.0], [3.0, 5.0]])).to_dict()
    d["state"].update(edit)
    return d


BAD_STATES = [
    ("missing scale", lambda: {**_state(), "state": {k: v for k, v in _state()["state"].items() if k != "scale"}},
     ["lacks ['scale']"]),
    ("unknown state key", lambda: _state(extra=[1.0, 2.0]), ["unknown keys ['extra']"]),
    ("negative scale", lambda: _state(scale=[1.0, -1.0]), ["'scale'", "positive"]),
    ("NaN center", lambda: _state(center=[float("nan"), 1.0]), ["'center'", "non-finite"]),
    ("wrong length", lambda: _state(center=[1.0]), ["'center'", "list of 2"]),
    ("strings", lambda: _state(center=["1", "2"]), ["'center'", "numbers"]),
    ("bool n_columns", lambda: _state(n_columns=True), ["n_columns"]),
    ("huge n_columns", lambda: _state(n_columns=10 ** 12), ["n_columns"]),
    ("state not a dict", lambda: {**_state(), "state": [1, 2]}, ["state must be a dict"]),
    ("not a dict", lambda: "zscore", ["to_dict"]),
    ("no strategy", lambda: {"feature_range": [0, 1]}, ["no strategy"]),
    ("unknown top-level key", lambda: {**_state(), "mode": 1}, ["unknown key", "'mode'"]),
    ("reversed range in a dict", lambda: {**_state(), "feature_range": [1, 0]}, ["feature_range"]),
    ("lambdas out of range", lambda: {**DataNormalizer("power").fit(np.arange(5.0)).to_dict(),
                                      "state": {"n_columns": 1, "lambdas": [1e9], "center": [0.0], "scale": [1.0]}},
     ["lambdas"]),
    ("pct_change zero reference", lambda: {"strategy": "pct_change", "feature_range": [0, 1],
                                           "state": {"n_columns": 1, "ref": [0.0]}}, ["nonzero"]),
]


@pytest.mark.parametrize("what,make,words", BAD_STATES, ids=[c[0] for c in BAD_STATES])
def test_bad_state_dicts_are_refused_at_load(what, make, words):
    with pytest.raises(ConfigError) as e:
        DataNormalizer.from_dict(make())
    for w in words:
        assert w in str(e.value), (what, str(e.value))


# ---- the whole float range ------------------------------------------------------------------------
EXTREME = {
    "above 1e154": np.array([[3e200, -1e155], [1e250, 2e160], [-5e300, 7e170], [2e306, 1e155]]),
    "whole range": np.array([[BIG], [-BIG], [1.0], [-3.5]]),
    "subnormal": np.array([[5e-324], [3e-320], [1e-310], [2e-315]]),
    "tiny and huge": np.array([[1e-300], [1e300], [0.5], [-2.0]]),
    "near-constant": np.array([[1e200], [1e200 * (1 + 2e-16)], [1e200 * (1 - 2e-16)], [1e200]]),
    "constant": np.full((4, 2), -7.25),
}


def _round_trip_or_refusal(n, X):
    try:
        Y = n.fit_transform(X)
    except DataError as e:
        assert "column" in str(e) and n.strategy in str(e), str(e)
        assert n.state is None                                        # a refused fit leaves it unfitted
        return None
    assert np.isfinite(Y).all()
    back = n.inverse_transform(Y)
    tol = 1e-7 * np.abs(X).max(0)
    assert (np.abs(back - X) <= tol).all(), (n.strategy, back, X)
    return Y


@pytest.mark.parametrize("data", EXTREME)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_extreme_magnitudes_stay_finite_and_invertible_or_are_refused(strategy, data):
    Y = _round_trip_or_refusal(DataNormalizer(strategy), EXTREME[data])
    if strategy in ("zscore", "minmax", "robust", "maxabs"):
        assert Y is not None, "the affine strategies handle every finite column"
    if strategy == "zscore" and data != "constant":
        np.testing.assert_allclose(Y.std(0), 1.0, rtol=1e-6)         # really scaled, not left in place


@pytest.mark.parametrize("power_method", ["yeo-johnson", "box-cox"])
def test_power_inverse_is_defined_past_the_training_range(power_method):
    """Skewed positive data pull the unconstrained lambda below 0, where the inverse has a bound."""
    x = np.random.default_rng(0).lognormal(size=(300, 1)) * 10
    n = DataNormalizer("power", power_method=power_method).fit(x)
    lo, hi = LAMBDA_RANGE[power_method]
    assert lo <= n.state["lambdas"][0] <= hi
    z = np.linspace(-6.0, 40.0, 200)[:, None]                       # far past the fitted range, both sides
    back = n.inverse_transform(z)
    assert np.isfinite(back).all() and (np.diff(back[:, 0]) >= 0).all()


# ---- properties -----------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False)
magnitudes = st.one_of(finite, st.floats(-1e3, 1e3), st.sampled_from([0.0, 1.0, -1.0, BIG, -BIG, 5e-324, 1e300]))


@st.composite
def columns(draw):
    n = draw(st.integers(2, 25))
    c = draw(st.integers(1, 3))
    X = draw(hnp.arrays(np.float64, (n, c), elements=magnitudes))
    if draw(st.booleans()):
        X[:, 0] = X[0, 0]                                            # a constant column
    return X


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=columns(), strategy=st.sampled_from(STRATEGIES))
def test_property_finite_and_invertible_or_a_clear_refusal(X, strategy):
    _round_trip_or_refusal(DataNormalizer(strategy), X)


@settings(max_examples=80, deadline=None)
@given(X=columns(), new=hnp.arrays(np.float64, 5, elements=magnitudes), strategy=st.sampled_from(ROW_WISE))
def test_property_new_data_transform_finite_or_refused(X, new, strategy):
    n = DataNormalizer(strategy)
    try:
        n.fit(X)
    except DataError:
        return
    A = np.repeat(new[:, None], X.shape[1], axis=1)
    try:
        Y = n.transform(A)
    except DataError as e:
        assert "column" in str(e) and "row" in str(e), str(e)
        return
    assert np.isfinite(Y).all()
    try:
        assert np.isfinite(n.inverse_transform(Y)).all()
    except DataError as e:
        assert "non-finite" in str(e), str(e)


def test_a_refused_fit_keeps_the_previous_fit():
    n = DataNormalizer("diff").fit(np.array([1.0, 2.0, 4.0]))
    before = n.to_dict()
    with pytest.raises(DataError, match="overflows"):
        n.fit(np.array([BIG, -BIG]))
    assert n.to_dict() == before
    with pytest.raises(DataError, match="nonzero"):
        DataNormalizer("pct_change").fit(np.array([1.0, 2.0])).fit(np.array([0.0, 1.0]))
