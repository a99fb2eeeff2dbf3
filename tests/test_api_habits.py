"""Habits users bring from Keras, Darts and scikit-learn, and what minilstm does with each."""
import numpy as np
import pandas as pd
import pytest

from minilstm import LSTMEnsemble, LSTMModel
from minilstm.errors import ConfigError, InputTypeError, ModelFileError, ShapeError
from minilstm.forecast.windows import sliding_windows, window_targets

SMALL = {"hidden_size": 8, "num_layers": 1, "sequence_length": 8, "epochs": 2, "batch_size": 32, "seed": 3}


def series(n=300, seed=0):
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 12) + 0.01 * t + np.random.default_rng(seed).normal(0, 0.1, n)


def frame(n=300):
    idx = pd.date_range("2020-01-01", periods=n, freq="D", name="time")
    s = series(n)
    return pd.DataFrame({"temp_min": s - 1.0, "temp_max": s, "wind": np.cos(np.arange(n) / 7.0)}, index=idx)


# ---- Keras: fit(X, y, epochs=..., batch_size=..., validation_data=...) ----------------------------
def test_fit_keywords_are_config_settings_for_that_fit():
    x = series()
    m = LSTMModel(SMALL).fit(x, x, epochs=3, batch_size=16, verbose=False)
    assert len(m.train_history) == 3 and m.config["epochs"] == 3 and m.config["batch_size"] == 16
    same = LSTMModel({**SMALL, "epochs": 3, "batch_size": 16}).fit(x, x, verbose=False)
    np.testing.assert_array_equal(m.predict(x), same.predict(x))


def test_fit_keyword_bad_or_unknown_is_a_config_error_naming_the_key():
    x = series()
    with pytest.raises(ConfigError, match="epochs"):
        LSTMModel(SMALL).fit(x, x, epochs=0, verbose=False)
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        LSTMModel(SMALL).fit(x, x, lr=0.01, verbose=False)


def test_failed_fit_keyword_leaves_the_model_unchanged():
    x = series()
    m = LSTMModel(SMALL).fit(x, x, verbose=False)
    before = m.predict(x)
    with pytest.raises(ConfigError):
        m.fit(x, x, hidden_size=-1, verbose=False)
    assert m.config["hidden_size"] == SMALL["hidden_size"]
    np.testing.assert_array_equal(m.predict(x), before)


def test_validation_data_validates_on_those_rows_and_trains_on_all_of_X():
    x = series(400)
    m = LSTMModel(SMALL).fit(x[:300], x[:300], validation_data=(x[300:], x[300:]), verbose=False)
    assert m.info["n_train_windows"] == 300 - 8          # every window of X trains: no split of X
    assert m.info["n_val_windows"] == 100 - 8
    assert all(r["val_loss"] is not None for r in m.train_history)
    # the last epoch's validation loss is the loss of the kept weights on exactly the given rows' windows
    last = LSTMModel({**SMALL, "restore_best": False, "patience": None, "baseline": None}).fit(
        x[:300], x[:300], validation_data=(x[300:], x[300:]), verbose=False)
    xv, yv = (last.x_normalizer.transform(x[300:, None]), last.y_normalizer.transform(x[300:, None]))
    Y = window_targets(yv, 8, 1, 1).reshape(92, 1)
    P = last._predict_windows(sliding_windows(xv, 8)[:92])
    assert last.train_history[-1]["val_loss"] == pytest.approx(np.mean((P - Y) ** 2), rel=1e-5)


def test_validation_data_bad_forms_are_clear():
    x = series()
    m = LSTMModel(SMALL)
    with pytest.raises(InputTypeError, match="tuple"):
        m.fit(x, x, validation_data=x[:50], verbose=False)
    with pytest.raises(ShapeError, match="validation_data"):
        m.fit(x, x, validation_data=(x[:50], x[:40]), verbose=False)
    with pytest.raises(ValueError, match="validation_data has 5 rows"):
        m.fit(x, x, validation_data=(x[:5], x[:5]), verbose=False)
    assert not m.is_fitted


def test_validation_data_frames_are_matched_by_column_name():
    df = frame()
    m = LSTMModel(SMALL).fit(df[:200], "temp_max", validation_data=(df[200:][["wind", "temp_max", "temp_min"]],),
                             verbose=False)
    ref = LSTMModel(SMALL).fit(df[:200], "temp_max", validation_data=(df[200:],), verbose=False)
    assert m.train_history[-1]["val_loss"] == ref.train_history[-1]["val_loss"]


# ---- Darts: fit(series); names of target columns ---------------------------------------------------
def test_fit_series_alone_forecasts_that_series():
    x = series()
    m = LSTMModel(SMALL).fit(x, verbose=False)
    twin = LSTMModel(SMALL).fit(x, x, verbose=False)
    np.testing.assert_array_equal(m.predict(x), twin.predict(x))
    assert m.forecast(x, steps=5).shape == (5,)             # recursive: the series is its own input


def test_fit_without_y_on_several_columns_says_how():
    with pytest.raises(InputTypeError, match="fit\\(df, 'Demand'\\)"):
        LSTMModel(SMALL).fit(np.ones((100, 3)), verbose=False)


def test_fit_frame_and_target_name():
    df = frame()
    m = LSTMModel(SMALL).fit(df, "temp_max", verbose=False)
    ref = LSTMModel(SMALL).fit(df.to_numpy(), df["temp_max"].to_numpy(), verbose=False)
    np.testing.assert_allclose(m.predict(df).to_numpy(), ref.predict(df.to_numpy()), rtol=0, atol=0)
    assert m.predict(df).name == "temp_max"
    assert m.evaluate(df, verbose=False)["rmse"] == pytest.approx(
        ref.evaluate(df.to_numpy(), df["temp_max"].to_numpy(), verbose=False)["rmse"])
    two = LSTMModel(SMALL).fit(df, ["temp_max", "temp_min"], verbose=False)
    assert list(two.predict(df).columns) == ["temp_max", "temp_min"]


def test_target_columns_by_name_in_config_and_in_saved_file(tmp_path):
    df = frame()
    m = LSTMModel({**SMALL, "target_columns": ["temp_max"]}).fit(df, verbose=False)
    p = m.save(tmp_path / "m.minilstm")
    back = LSTMModel.load(p)
    assert back.config["target_columns"] == ["temp_max"]
    pd.testing.assert_series_equal(back.predict(df[["wind", "temp_max", "temp_min"]]), m.predict(df))


def test_bad_target_names_are_clear():
    df = frame()
    with pytest.raises(ConfigError, match="'tmax'.*temp_max"):
        LSTMModel(SMALL).fit(df, "tmax", verbose=False)
    with pytest.raises(ConfigError, match="array without column names"):
        LSTMModel(SMALL).fit(df.to_numpy(), "temp_max", verbose=False)
    with pytest.raises(ConfigError, match="give one or the other"):
        LSTMModel({**SMALL, "target_columns": [0]}).fit(df, "temp_max", verbose=False)
    with pytest.raises(ConfigError, match="target_columns"):
        LSTMModel({"target_columns": ["a", 0]})


def test_backtest_and_ensemble_take_named_targets():
    from minilstm.forecast import backtest
    df = frame(200)
    cfg = {**SMALL, "epochs": 1, "target_columns": ["temp_max"]}
    r = backtest(cfg, df, start=160, step=20)
    ref = backtest({**cfg, "target_columns": [1]}, df.to_numpy(), start=160, step=20)
    assert r.metrics["rmse"] == ref.metrics["rmse"]
    ens = LSTMEnsemble(cfg, n_members=2).fit(df, verbose=False)
    assert ens.predict(df).shape == (200 - 8 + 1,)


# ---- load on the class, across the two file kinds -------------------------------------------------
def test_load_on_the_class_and_the_wrong_class_names_the_right_one(tmp_path):
    x = series(120)
    ens = LSTMEnsemble({**SMALL, "epochs": 1}, n_members=2).fit(x, x, verbose=False)
    m = LSTMModel({**SMALL, "epochs": 1}).fit(x, x, verbose=False)
    pe, pm = ens.save(tmp_path / "e.minilstm"), m.save(tmp_path / "m.minilstm")
    back = LSTMEnsemble.load(pe)
    assert isinstance(back, LSTMEnsemble) and back.is_fitted
    np.testing.assert_array_equal(back.predict(x), ens.predict(x))
    with pytest.raises(ModelFileError, match="LSTMEnsemble.load"):
        LSTMModel.load(pe)
    with pytest.raises(ModelFileError, match="LSTMModel.load"):
        LSTMEnsemble.load(pm)


# ---- several steps ahead: what predict returns, evaluate per step --------------------------------
def test_a_model_trained_for_k_steps_returns_k_unless_asked():
    x = series()
    m = LSTMModel({**SMALL, "output_steps": 4}).fit(x, x, verbose=False)
    assert m.predict(x).shape == (300 - 8 + 1, 4)
    assert m.predict(x, steps=1).shape == (300 - 8 + 1,)
    assert m.forecast(x).shape == (4,)
    np.testing.assert_array_equal(m.predict(x)[:, 0], m.predict(x, steps=1))


def test_evaluate_reports_each_step_and_the_pooled_figures():
    x = series()
    m = LSTMModel({**SMALL, "output_steps": 3}).fit(x[:250], x[:250], verbose=False)
    r = m.evaluate(x[200:], x[200:], verbose=False)
    assert [s["step"] for s in r["per_step"]] == [1, 2, 3]
    P, n = m.predict(x[200:]), 100 - 8 - 3 + 1
    truth = np.stack([x[200 + 8 + j: 200 + 8 + j + n] for j in range(3)], axis=1)
    for j in range(3):
        rmse = np.sqrt(np.mean((P[:n, j] - truth[:, j]) ** 2))
        assert r["per_step"][j]["rmse"] == pytest.approx(rmse, rel=1e-9)
        persist = np.sqrt(np.mean((x[200 + 7: 200 + 7 + n] - truth[:, j]) ** 2))
        assert r["per_step"][j]["baselines"]["persistence"]["rmse"] == pytest.approx(persist, rel=1e-9)
    assert r["rmse"] == pytest.approx(np.sqrt(np.mean((P[:n] - truth) ** 2)), rel=1e-9)
    assert "RMSE by step ahead" in str(r)
    one = LSTMModel(SMALL).fit(x[:250], x[:250], verbose=False).evaluate(x[200:], x[200:], verbose=False)
    assert "per_step" not in one and "by step" not in str(one)


# ---- datasets: frame and data are attributes alike -----------------------------------------------
def test_dataset_frame_is_an_attribute_like_data():
    from minilstm.datasets import load_weather
    ds = load_weather()
    assert isinstance(ds.frame, pd.DataFrame) and ds.frame is ds.frame
    np.testing.assert_array_equal(ds.frame.to_numpy(), ds.data)


def test_targets_named_by_one_fit_do_not_bind_the_next():
    df = frame()
    m = LSTMModel(SMALL).fit(df["temp_max"].to_numpy(), verbose=False)       # y omitted: target column 0
    m.fit(df.to_numpy(), df["wind"].to_numpy(), verbose=False)              # a new y: no stale target_columns
    assert m.config["target_columns"] is None and m.n_features == 3
    m = LSTMModel(SMALL).fit(df, "temp_max", verbose=False)
    m.fit(df, "wind", verbose=False)
    assert m.config["target_columns"] == ["wind"] and m.predict(df).name == "wind"
    kept = LSTMModel({**SMALL, "target_columns": ["temp_max"]}).fit(df, verbose=False)
    with pytest.raises(ConfigError, match="give one or the other"):        # a configured choice still binds
        kept.fit(df, "wind", verbose=False)


def test_validation_data_targets_are_range_checked():
    x = series()
    with pytest.raises(ValueError, match="validation_data's y"):
        LSTMModel({**SMALL, "normalize": None}).fit(x, x, validation_data=(x[:50], x[:50] * 1e45), verbose=False)


def test_ensemble_backtest_and_sweep_take_y_as_fit_does():
    from minilstm.forecast import backtest, sweep
    df = frame(200)
    cfg = {**SMALL, "epochs": 1}
    named = backtest(cfg, df, "temp_max", start=160, step=20)
    ref = backtest({**cfg, "target_columns": [1]}, df.to_numpy(), start=160, step=20)
    assert named.metrics["rmse"] == ref.metrics["rmse"]
    s = df["temp_max"].to_numpy()
    alone = backtest(cfg, s, start=160, step=20)                             # y omitted: the series itself
    assert alone.metrics["rmse"] == backtest(cfg, s, s, start=160, step=20).metrics["rmse"]
    ens = LSTMEnsemble(cfg, n_members=2).fit(df, "temp_max", verbose=False)
    assert ens.evaluate(df, verbose=False)["n_scored"] == 200 - 8
    assert LSTMEnsemble(cfg, n_members=2).fit(s, verbose=False).predict(s).shape == (200 - 8 + 1,)
    result = sweep({"hidden_size": [4, 6]}, df, "temp_max", config=cfg, cv=0.2, verbose=False)
    assert all(t["status"] == "ok" for t in result.trials)
    with pytest.raises(ConfigError, match="several columns"):
        backtest(cfg, df.to_numpy(), start=160)
