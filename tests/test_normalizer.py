import numpy as np
import pytest

from minilstm import DataNormalizer
from minilstm.forecast.normalizer import METHODS


def random_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 4)) * [1.0, 250.0, 1e-3, 7.0] + [0.0, -40.0, 5.0, 3.0]
    X[:, 3] = rng.lognormal(size=300)          # a positive, skewed column
    return X


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_round_trip_on_random_data(method, seed):
    X = random_data(seed)
    n = DataNormalizer({"method": method})
    Y = n.fit_transform(X)
    assert Y.shape == X.shape and np.isfinite(Y).all()
    np.testing.assert_allclose(n.inverse_transform(Y), X, rtol=1e-9, atol=1e-9 * np.abs(X).max())
    back = DataNormalizer.from_dict(n.to_dict())
    np.testing.assert_allclose(back.transform(X), Y, rtol=1e-12, atol=1e-12)


def test_strategies_do_what_they_say():
    X = random_data(3)
    z = DataNormalizer("zscore").fit_transform(X)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(0), 1, rtol=1e-12)
    mm = DataNormalizer({"method": "minmax", "feature_range": (-1, 1)}).fit_transform(X)
    np.testing.assert_allclose(mm.min(0), -1)
    np.testing.assert_allclose(mm.max(0), 1)
    np.testing.assert_allclose(np.median(DataNormalizer("robust").fit_transform(X), axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.abs(DataNormalizer("maxabs").fit_transform(X)).max(0), 1)
    d = DataNormalizer("diff").fit_transform(X)
    np.testing.assert_allclose(d[1:], np.diff(X, axis=0))
    p = DataNormalizer("pct_change").fit_transform(X)
    np.testing.assert_allclose(p[1:], X[1:] / X[:-1] - 1)
    pw = DataNormalizer("power").fit_transform(X)
    np.testing.assert_allclose(pw.mean(0), 0, atol=1e-9)
    skew = lambda a: ((a - a.mean()) ** 3).mean() / a.std() ** 3  # noqa: E731
    assert abs(skew(pw[:, 3])) < abs(skew(X[:, 3])) / 3        # Yeo-Johnson removes most of the skew


def test_box_cox_and_log_on_positive_and_negative_data():
    x = np.random.default_rng(0).lognormal(size=(200, 1))
    n = DataNormalizer({"method": "power", "power_method": "box-cox"})
    np.testing.assert_allclose(n.inverse_transform(n.fit_transform(x)), x, rtol=1e-10)
    with pytest.raises(ValueError, match="positive"):
        DataNormalizer({"method": "power", "power_method": "box-cox"}).fit(-x)
    neg = np.array([[-5.0], [0.0], [3.0]])
    ln = DataNormalizer("log")
    np.testing.assert_allclose(ln.inverse_transform(ln.fit_transform(neg)), neg)


@pytest.mark.parametrize("method", METHODS)
def test_constant_columns_give_no_nan(method):
    X = np.column_stack([np.full(50, 3.0), np.linspace(1, 2, 50)])
    n = DataNormalizer(method)
    Y = n.fit_transform(X)
    assert np.isfinite(Y).all()
    np.testing.assert_allclose(n.inverse_transform(Y), X, rtol=1e-9)


def test_errors_and_frames():
    with pytest.raises(ValueError, match="NaN"):
        DataNormalizer().fit(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="Inf"):
        DataNormalizer().fit(np.array([[1.0], [np.inf]]))
    with pytest.raises(RuntimeError, match="fit"):
        DataNormalizer().transform(np.ones(3))
    with pytest.raises(ValueError, match="unknown normalization strategy"):
        DataNormalizer("quantile")
    with pytest.raises(ValueError, match="columns"):
        DataNormalizer().fit(np.ones((5, 2))).transform(np.ones((5, 3)))
    with pytest.raises(ValueError, match="nonzero"):
        DataNormalizer("pct_change").fit(np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="numeric"):
        DataNormalizer().fit(np.array(["a", "b"]))
    v = np.array([1.0, 2.0, 4.0])
    out = DataNormalizer().fit_transform(v)
    assert out.shape == (3,)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 6.0]}, index=[10, 11, 12])
    n = DataNormalizer("minmax")
    t = n.fit_transform(df)
    assert isinstance(t, pd.DataFrame) and list(t.columns) == ["a", "b"] and list(t.index) == [10, 11, 12]
    back = n.inverse_transform(t)
    pd.testing.assert_frame_equal(back, df)
    s = pd.Series([1.0, 2.0, 3.0], name="x")
    ts = DataNormalizer().fit_transform(s)
    assert isinstance(ts, pd.Series) and ts.name == "x"
