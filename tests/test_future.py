"""Known-future columns (config['future_columns'], forecast.future): the leads are the module's equation, a
known input the target depends on is used, no target value after an origin is read (predict, forecast,
backtest), bad input is refused with the fix, and saved, pickled and ensembled models read them the same."""
import pickle

import numpy as np
import pandas as pd
import pytest

from minilstm import LSTMEnsemble, LSTMModel
from minilstm.errors import ConfigError, DataError, ShapeError
from minilstm.forecast import backtest
from minilstm.forecast.future import with_leads

SMALL = {"hidden_size": 16, "num_layers": 1, "sequence_length": 12, "epochs": 25, "batch_size": 32, "seed": 0,
         "output_steps": 3}


def driven(n=500, seed=0):
    """y_t = 0.5 y_{t-1} + 2 u_t + noise: the input u at the target's own row decides most of it."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.5 * y[t - 1] + 2.0 * u[t] + 0.1 * rng.standard_normal()
    return pd.DataFrame({"y": y, "u": u}, index=pd.date_range("2020-01-01", periods=n, freq="h"))


@pytest.fixture(scope="module")
def fitted():
    df = driven()
    return df, LSTMModel(SMALL, future_columns=["u"]).fit(df[:400], "y", verbose=False)


def test_leads_are_the_equation():
    X = np.arange(40.0).reshape(20, 2)
    X[:, 1] *= 10
    h, k = 2, 3
    got = with_leads(X, [1], h, k)
    assert got.shape == (20 - h - k + 1, 2 + k)
    for t in range(len(got)):
        np.testing.assert_array_equal(got[t, :2], X[t])
        for s in range(k):
            assert got[t, 2 + s] == X[t + h + s, 1]                  # lead s: the column at row t + h + s


def test_a_known_input_is_used(fitted):
    df, m = fitted
    past = LSTMModel(SMALL).fit(df[:400], "y", verbose=False)
    with_future = m.evaluate(df[350:], verbose=False)["rmse"]
    assert with_future < 0.5 * past.evaluate(df[350:], verbose=False)["rmse"]
    assert m.rnn.input_size == 2 + 3                                   # y, u and u's 3 leads


def test_predict_returns_the_windows_whose_future_rows_are_there(fitted):
    df, m = fitted
    L, k = 12, 3
    p = m.predict(df[400:])
    assert len(p) == 100 - L - 1 - k + 2                             # N - L - horizon - k + 2
    np.testing.assert_allclose(np.asarray(m.forecast(df[:450], future=df[["u"]][450:453])),
                               np.asarray(p)[450 - 400 - L], rtol=1e-6)
    with pytest.raises(DataError, match="known-future"):
        m.predict(df[400:400 + L + 1])                                 # too few rows for one window and its leads


def test_no_target_value_after_the_origin_is_read(fitted):
    df, m = fitted
    X = df.to_numpy()
    for o in (100, 250, 397):
        clean = m._predict_rows(X[:o + 3], 3, [o])
        poison = X[:o + 3].copy()
        poison[o:, 0] = 1e6                                              # the target after the origin
        np.testing.assert_array_equal(m._predict_rows(poison, 3, [o]), clean)
        poison[o:, 1] += 1.0                                             # the known input after it: read
        assert not np.allclose(m._predict_rows(poison, 3, [o]), clean)


def test_backtest_reads_the_future_columns_not_the_target():
    df = driven(260)
    X, y = df.to_numpy(), df["y"].to_numpy()
    cfg = dict(SMALL, epochs=2, future_columns=[1], target_columns=[0])
    clean = backtest(cfg, X, y, start=200, step=20, steps=3, verbose=False)
    assert len(clean.origins) >= 2 and clean.origins[-1] <= 260 - 3
    o = int(clean.origins[0])
    Xp, yp = X.copy(), y.copy()
    Xp[o:, 0], yp[o:] = 1e6, 1e6                                         # every target value after the origin
    r = backtest(cfg, Xp, yp, start=200, step=20, steps=3, verbose=False)
    np.testing.assert_allclose(r.forecasts[0], clean.forecasts[0], rtol=1e-9)


def test_forecast_needs_the_future_rows_and_only_those(fitted):
    df, m = fitted
    hist = df[:450]
    with pytest.raises(DataError, match="future=X_future"):
        m.forecast(hist)
    with pytest.raises(DataError, match="at least 3"):
        m.forecast(hist, future=df[["u"]][450:452])
    with pytest.raises(ShapeError, match="not future columns"):
        m.forecast(hist, future=df[450:453])                            # the target is not known
    with pytest.raises(ShapeError, match="1 future column"):
        m.forecast(hist, future=np.ones((3, 2)))
    with pytest.raises(DataError):
        m.forecast(hist, future=np.array([[1.0], [np.nan], [2.0]]))
    a = m.forecast(hist, future=df[["u"]][450:460])                     # more rows: the first 3 are read
    np.testing.assert_allclose(np.asarray(a), np.asarray(m.forecast(hist, future=df["u"][450:453].to_numpy())))
    plain = LSTMModel(SMALL).fit(df[:400], "y", verbose=False)
    with pytest.raises(ConfigError, match="future="):
        plain.forecast(hist, future=df[["u"]][450:453])


@pytest.mark.parametrize("settings, match", [
    ({"future_columns": ["y"]}, "leak"),
    ({"future_columns": ["u", "u"]}, "repeated"),
    ({"future_columns": ["rain"]}, "rain"),
    ({"future_columns": ["u"], "scaling": "window"}, "scaling"),
    ({"future_columns": ["u"], "baseline": "ets"}, "baseline"),
    ({"future_columns": [1.5]}, "future_columns"),
])
def test_bad_future_columns_are_refused(settings, match):
    df = driven(120)
    with pytest.raises(ConfigError, match=match):
        LSTMModel(dict(SMALL, epochs=1), **settings).fit(df, "y", verbose=False)


def test_steps_beyond_the_trained_ones_are_refused(fitted):
    df, m = fitted
    with pytest.raises(ConfigError, match="output_steps"):
        m.predict(df[400:], steps=5)


def test_saved_pickled_and_ensembled_models_read_them(fitted, tmp_path):
    df, m = fitted
    back = LSTMModel.load(m.save(tmp_path / "f.minilstm"))
    np.testing.assert_array_equal(np.asarray(back.predict(df[400:])), np.asarray(m.predict(df[400:])))
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(m)).predict(df[400:])),
                                  np.asarray(m.predict(df[400:])))
    ens = LSTMEnsemble(dict(SMALL, epochs=2, future_columns=["u"]), n_members=2).fit(df[:300], "y", verbose=False)
    point, bounds = ens.forecast(df[:300], future=df[["u"]][300:303], intervals=0.8)
    assert np.shape(point) == (3,) and np.all(np.asarray(bounds[0.8][0]) <= np.asarray(bounds[0.8][1]))


def test_validation_data_gets_its_leads():
    df = driven(300)
    m = LSTMModel(dict(SMALL, epochs=2), future_columns=["u"])
    m.fit(df[:200], "y", validation_data=(df[200:], df["y"][200:]), verbose=False)
    assert m.train_history[0]["val_loss"] is not None


def test_a_sweep_fits_and_scores_with_them():
    from minilstm.forecast import sweep
    df = driven(260)
    res = sweep({"hidden_size": [4, 8]}, df, "y", config=dict(SMALL, epochs=2, future_columns=["u"]), cv=0.25,
                verbose=False)
    assert len(res.table()) >= 2 and np.isfinite(res.best_score)


def test_quantile_models_read_them_and_label_their_forecasts(fitted):
    df, _ = fitted
    q = LSTMModel(dict(SMALL, epochs=2, horizon=2), loss="quantile", quantiles=[0.1, 0.5, 0.9],
                  future_columns=["u"]).fit(df[:300], "y", verbose=False)
    rep = q.evaluate(df[200:], verbose=False)
    assert rep["n_scored"] > 0 and 0.0 <= rep["intervals"][0.8]["coverage"] <= 1.0
    point = q.forecast(df[:300], future=df[["u"]][300:304])
    levels = q.forecast(df[:300], future=df[["u"]][300:304], quantiles=True)
    assert list(levels.index) == list(point.index)                      # the target times, not later ones
    np.testing.assert_allclose(levels[0.5].to_numpy(), point.to_numpy())


def test_future_rows_must_be_named_and_timed_as_the_rows_forecast(fitted):
    df, m = fitted
    with pytest.raises(ShapeError, match="lacks the future column"):
        m.forecast(df[:450], future=df[["u"]][450:453].rename(columns={"u": "temperature"}))
    with pytest.raises(DataError, match="right after"):
        m.forecast(df[:450], future=df[["u"]][460:463])                 # ten hours later
    with pytest.raises(DataError, match="right after"):
        m.forecast(df[:450], future=df[["u"]][100:103])                 # the past


def test_future_times_must_be_zoned_as_the_history(fitted):
    df, m = fitted
    fut = df[["u"]][450:453].tz_localize("UTC")
    with pytest.raises(DataError, match="time-zone aware"):
        m.forecast(df[:450], future=fut)
