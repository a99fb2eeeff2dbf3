"""The spec's two usage examples, run as written.

"The spec" is the documentation of an LSTM forecasting API that minilstm implements. Its
two usage blocks are quoted below character for character. Only these lines change:
the two imports (the spec's package paths -> ``from minilstm import ...``), the ``...``
data lines (filled from the bundled Seattle weather data) and the epoch counts (100 and
200 -> 2 and 3, so the test runs in seconds). Every replacement is asserted to happen
exactly once, so the code that runs is the spec's code. Then each line's promise is checked.
"""
import numpy as np
import pytest

from minilstm import datasets

SPEC_BASIC = '''
from timeseries.deeplearning.models.lstm import LSTMModel
from timeseries.normalization import DataNormalizer

# Prepare data
X_train, y_train = ...  # Shape: (samples, features)
X_test, y_test = ...

# Normalize
normalizer = DataNormalizer({'strategy': 'zscore'})
X_train_norm = normalizer.fit_transform(X_train)
X_test_norm = normalizer.transform(X_test)

# Configure model
config = {
    'sequence_length': 20,
    'hidden_size': 64,
    'num_layers': 2,
    'epochs': 100,
    'batch_size': 32
}

# Train
model = LSTMModel(config=config)
model.fit(X_train_norm, y_train, validation_split=0.1, verbose=True)

# Predict
predictions = model.predict(X_test_norm)

# Evaluate
metrics = model.evaluate(X_test_norm, y_test)
'''

SPEC_ADVANCED = '''
# Custom configuration
config = {
    'sequence_length': 30,
    'hidden_size': 128,
    'num_layers': 3,
    'dropout': 0.3,
    'learning_rate': 0.0005,
    'epochs': 200,
    'batch_size': 64
}

model = LSTMModel(config=config)

# Train with validation monitoring
model.fit(
    X_train, y_train,
    validation_split=0.15,
    verbose=True
)

# Access training history
history = model.train_history
train_losses = [h['train_loss'] for h in history]
val_losses = [h['val_loss'] for h in history]

# Make multi-step predictions
predictions = model.predict(X_test, steps=1)

# Save model
model.save('lstm_model.pkl')

# Load model
loaded_model = LSTMModel()
loaded_model.load('lstm_model.pkl')
'''

IMPORTS = ("from timeseries.deeplearning.models.lstm import LSTMModel\n"
           "from timeseries.normalization import DataNormalizer\n",
           "from minilstm import LSTMModel, DataNormalizer\n")
DATA = {"X_train, y_train = ...": "X_train, y_train = DATA['X_train'], DATA['y_train']",
        "X_test, y_test = ...": "X_test, y_test = DATA['X_test'], DATA['y_test']"}


def adapt(code, replacements):
    """The spec's code with exactly these replacements, each found exactly once."""
    for old, new in replacements.items():
        assert code.count(old) == 1, f"{old!r} is not in the spec block exactly once"
        code = code.replace(old, new)
    return code


@pytest.fixture(scope="module")
def data():
    """Seattle daily weather (precipitation, temp_max, temp_min, wind): X all four, y = temp_max."""
    ds = datasets.load_weather()
    X, y = ds.data[:600], ds.column("temp_max")[:600]
    return {"X_train": X[:450], "y_train": y[:450], "X_test": X[450:], "y_test": y[450:]}


def test_basic_usage_block_runs_as_written(data, capsys):
    code = adapt(SPEC_BASIC, {IMPORTS[0]: IMPORTS[1], "'epochs': 100,": "'epochs': 2,", **DATA})
    ns = {"DATA": data}
    exec(compile(code, "spec_basic_usage", "exec"), ns)
    out = capsys.readouterr().out
    # Normalize: z-scores of the training columns, the test columns on the training statistics
    assert ns["X_train_norm"].shape == data["X_train"].shape
    np.testing.assert_allclose(ns["X_train_norm"].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(ns["X_train_norm"].std(0), 1, rtol=1e-12)
    mu, sd = data["X_train"].mean(0), data["X_train"].std(0)
    np.testing.assert_allclose(ns["X_test_norm"], (data["X_test"] - mu) / sd, rtol=1e-10)
    # Train: the configuration is the model's, verbose prints one line per epoch
    model = ns["model"]
    assert model.is_fitted and {k: model.config[k] for k in ns["config"]} == ns["config"]
    assert len(model.train_history) == 2 and "epoch   1/2" in out and "epoch   2/2" in out
    assert all(r["val_loss"] is not None for r in model.train_history)            # validation_split=0.1
    # Predict: one prediction per window of 20 rows, in y's units (degrees C, not z-scores)
    p = ns["predictions"]
    assert p.shape == (len(data["X_test"]) - 20 + 1,) and np.isfinite(p).all()
    assert abs(p.mean() - data["y_train"].mean()) < 3 * data["y_train"].std()
    assert p.std() > 0.05                                                          # not a constant
    # Evaluate: a dict of metrics in y's units, beside the baselines, on every labeled test window
    m = ns["metrics"]
    for k in ("mse", "rmse", "mae", "mape", "smape", "r2", "mase"):
        assert np.isfinite(m[k]), k
    assert m["rmse"] == pytest.approx(np.sqrt(m["mse"]))
    assert m["n_scored"] == len(data["X_test"]) - 20
    assert {"persistence", "seasonal_naive", "linear_ar"} <= set(m["baselines"])
    truth = data["y_test"][20:]
    assert m["mae"] == pytest.approx(np.mean(np.abs(p[:-1] - truth)), rel=1e-9)


def test_advanced_usage_block_runs_as_written(data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                        # model.save('lstm_model.pkl') writes here
    code = adapt(SPEC_ADVANCED, {"'epochs': 200,": "'epochs': 3,"})
    ns = {"DATA": data}
    exec(compile(adapt(IMPORTS[1] + "X_train, y_train = ...\nX_test, y_test = ...\n", DATA) + code,
                 "spec_advanced_usage", "exec"), ns)
    out = capsys.readouterr().out
    model, loaded = ns["model"], ns["loaded_model"]
    assert model.config["dropout"] == 0.3 and model.config["learning_rate"] == 0.0005
    assert model.lstm.num_layers == 3 and model.lstm.hidden_size == 128
    assert "epoch   3/3" in out
    # Access training history: one dict per epoch, train and validation losses as numbers
    assert len(ns["train_losses"]) == len(ns["val_losses"]) == 3
    assert all(isinstance(v, float) and np.isfinite(v) for v in ns["train_losses"] + ns["val_losses"])
    assert model.info["n_val_windows"] == round((len(data["X_train"]) - 30) * 0.15)
    # Predictions, steps=1: one per window of 30 rows
    p = ns["predictions"]
    assert p.shape == (len(data["X_test"]) - 30 + 1,) and np.isfinite(p).all()
    # Save, then load into a new model: the file exists under that name, and predictions are identical
    assert (tmp_path / "lstm_model.pkl").is_file()
    assert loaded.is_fitted
    np.testing.assert_array_equal(loaded.predict(data["X_test"], steps=1), p)
    assert loaded.train_history == model.train_history
    assert loaded.evaluate(data["X_test"], data["y_test"], verbose=False)["rmse"] == pytest.approx(
        model.evaluate(data["X_test"], data["y_test"], verbose=False)["rmse"], rel=1e-12)
