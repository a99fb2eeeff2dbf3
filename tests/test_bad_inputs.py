"""Bad input: each case raises a minilstm error (keeping ValueError/TypeError semantics) whose
message names what was wrong and how to fix it. Nothing escapes as AttributeError or IndexError."""
import re
import warnings

import numpy as np
import pytest

from minilstm import DataNormalizer, LSTMModel
from minilstm.backend import cupy_available
from minilstm.errors import MiniLSTMError

CFG = {"hidden_size": 4, "num_layers": 1, "epochs": 1, "sequence_length": 5, "device": "cpu"}
s = np.sin(np.arange(60) / 3.0)
X2 = np.column_stack([s, np.cos(np.arange(60))])


def fitted():
    return LSTMModel(CFG).fit(X2, s, verbose=False)


def with_nan(a, i=3):
    a = np.array(a, dtype=float)
    a.flat[i] = np.nan
    return a


CASES = [
    # (name, action, exception type, words the message must contain)
    ("fit on a masked array", lambda: LSTMModel(CFG).fit(np.ma.masked_array(s, mask=np.arange(60) == 7)), ValueError,
     ["masked", "filled"]),
    ("predict on a masked array", lambda: fitted().predict(np.ma.masked_array(X2, mask=X2 > 0.99)), ValueError,
     ["masked", "filled"]),
    ("X 3-D", lambda: LSTMModel(CFG).fit(np.zeros((10, 2, 2)), np.zeros(10)), ValueError, ["1-D", "2-D"]),
    ("y 3-D", lambda: LSTMModel(CFG).fit(X2, np.zeros((60, 1, 1))), ValueError, ["y must be"]),
    ("X scalar", lambda: LSTMModel(CFG).fit(np.float64(3.0), np.zeros(1)), ValueError, ["1-D"]),
    ("lengths differ", lambda: LSTMModel(CFG).fit(X2, s[:-1]), ValueError, ["60 rows", "59"]),
    ("too few rows", lambda: LSTMModel(CFG).fit(s[:5], s[:5]), ValueError, ["too few", "sequence_length"]),
    ("NaN in X", lambda: LSTMModel(CFG).fit(with_nan(X2), s), ValueError, ["NaN", "row"]),
    ("Inf in y", lambda: LSTMModel(CFG).fit(X2, np.where(np.arange(60) == 7, np.inf, s)), ValueError, ["Inf", "row 7"]),
    ("strings in X", lambda: LSTMModel(CFG).fit(np.array([["a", "b"]] * 60), s), ValueError, ["non-numeric"]),
    ("complex X", lambda: LSTMModel(CFG).fit(X2 + 1j, s), ValueError, ["complex"]),
    ("X is a dict", lambda: LSTMModel(CFG).fit({"a": 1}, s), TypeError, ["array"]),
    ("X is None", lambda: LSTMModel(CFG).fit(None, s), TypeError, ["None"]),
    ("y missing without target_columns", lambda: LSTMModel(CFG).fit(X2), TypeError, ["target_columns"]),
    ("ragged X", lambda: LSTMModel(CFG).fit([[1, 2], [3]], [1, 2]), ValueError, ["array"]),
    ("empty columns", lambda: LSTMModel(CFG).fit(np.zeros((60, 0)), s), ValueError, ["no columns"]),
    ("empty X", lambda: LSTMModel(CFG).fit(np.array([]), np.array([])), ValueError, ["empty", "at least one row"]),
    ("empty list", lambda: LSTMModel(CFG).fit([], []), ValueError, ["empty"]),
    ("predict on empty X", lambda: fitted().predict(np.zeros((0, 2))), ValueError, ["empty"]),
    ("predict before fit", lambda: LSTMModel(CFG).predict(X2), RuntimeError, ["fit"]),
    ("evaluate before fit", lambda: LSTMModel(CFG).evaluate(X2, s), RuntimeError, ["fit"]),
    ("save before fit", lambda: LSTMModel(CFG).save("/tmp/never.minilstm"), RuntimeError, ["fit"]),
    ("forecast before fit", lambda: LSTMModel(CFG).forecast(X2, 3), RuntimeError, ["fit"]),
    ("different number of features", lambda: fitted().predict(s), ValueError, ["1 feature", "fitted on 2"]),
    ("predict on too few rows", lambda: fitted().predict(X2[:3]), ValueError, ["sequence_length"]),
    ("evaluate y length", lambda: fitted().evaluate(X2, s[:10]), ValueError, ["rows"]),
    ("evaluate y columns", lambda: fitted().evaluate(X2, X2), ValueError, ["column"]),
    ("steps < 1", lambda: fitted().predict(X2, steps=0), ValueError, ["steps", "[1, "]),
    ("steps not int", lambda: fitted().predict(X2, steps=1.5), ValueError, ["steps"]),
    ("recursive with covariates", lambda: fitted().predict(X2, steps=3), ValueError, ["output_steps"]),
    ("unknown key (typo)", lambda: LSTMModel({"hiden_size": 3}), ValueError, ["hiden_size", "hidden_size", "Valid"]),
    ("negative hidden_size", lambda: LSTMModel({"hidden_size": -3}), ValueError, ["hidden_size", ">= 1"]),
    ("zero layers", lambda: LSTMModel({"num_layers": 0}), ValueError, ["num_layers"]),
    ("float epochs", lambda: LSTMModel({"epochs": 2.5}), ValueError, ["epochs", "integer"]),
    ("dropout 1.0", lambda: LSTMModel({"dropout": 1.0}), ValueError, ["dropout", "[0.0, 1.0)"]),
    ("negative dropout", lambda: LSTMModel({"dropout": -0.1}), ValueError, ["dropout"]),
    ("learning rate 0", lambda: LSTMModel({"learning_rate": 0}), ValueError, ["learning_rate"]),
    ("learning rate NaN", lambda: LSTMModel({"learning_rate": float("nan")}), ValueError, ["learning_rate"]),
    ("bool batch_size", lambda: LSTMModel({"batch_size": True}), ValueError, ["batch_size"]),
    ("bad device", lambda: LSTMModel({"device": "tpu"}), ValueError, ["device", "cpu"]),
    ("bad dtype", lambda: LSTMModel({"dtype": "float16"}), ValueError, ["dtype", "float32"]),
    ("bad schedule", lambda: LSTMModel({"lr_schedule": "linear"}), ValueError, ["lr_schedule", "cosine"]),
    ("bad normalize", lambda: LSTMModel({"normalize": "scale"}), ValueError, ["normalize", "zscore"]),
    ("diff normalize in model", lambda: LSTMModel({"normalize": "diff"}), ValueError, ["diff", "DataNormalizer"]),
    ("config not a dict", lambda: LSTMModel(["hidden_size"]), ValueError, ["dict"]),
    ("bad target_columns", lambda: LSTMModel({"target_columns": ["a", 0]}), ValueError, ["target_columns"]),
    ("target column out of range", lambda: LSTMModel({**CFG, "target_columns": [5]}).fit(X2), ValueError,
     ["target_columns", "2 column"]),
    ("input_size disagrees", lambda: LSTMModel({**CFG, "input_size": 3}).fit(X2, s), ValueError,
     ["input_size", "2 feature"]),
    ("output_size disagrees", lambda: LSTMModel({**CFG, "output_size": 2}).fit(X2, s), ValueError,
     ["output_size", "1 column"]),
    ("validation_split leaves nothing", lambda: LSTMModel(CFG).fit(s[:8], s[:8], validation_split=0.9), ValueError,
     ["validation_split", "no training window"]),
    ("validation_split out of range", lambda: LSTMModel(CFG).fit(X2, s, validation_split=1.0), ValueError,
     ["validation_split", "[0, 1)"]),
    ("load a missing file", lambda: LSTMModel().load("/nonexistent/m.minilstm"), ValueError, ["no model file"]),
    ("normalizer NaN", lambda: DataNormalizer().fit(with_nan(X2)), ValueError, ["NaN", "fill"]),
    ("normalizer from a bad dict", lambda: DataNormalizer.from_dict({"mode": "z"}), ValueError, ["to_dict"]),
    ("LSTM backward before forward", lambda: __import__("minilstm").LSTM(2, 3).backward(np.zeros((1, 1, 3))),
     RuntimeError, ["forward"]),
    ("gradient check of a float32 layer", lambda: __import__("minilstm").gradcheck.check_layer(
        __import__("minilstm").LSTM(2, 3, dtype=np.float32), np.zeros((1, 2, 2))), ValueError, ["float64"]),
    ("Keras/PyTorch name lr", lambda: LSTMModel({"lr": 0.01}), ValueError, ["'lr'", "did you mean 'learning_rate'"]),
    ("Darts name input_chunk_length", lambda: LSTMModel(input_chunk_length=24), ValueError,
     ["did you mean 'sequence_length'"]),
    ("lookback", lambda: LSTMModel({"lookback": 24}), ValueError, ["did you mean 'sequence_length'"]),
    ("early_stopping", lambda: LSTMModel({"early_stopping": 5}), ValueError, ["did you mean 'patience'"]),
    ("n_epochs", lambda: LSTMModel(n_epochs=5), ValueError, ["did you mean 'epochs'"]),
    ("hidden_dim", lambda: LSTMModel({"hidden_dim": 5}), ValueError, ["did you mean 'hidden_size'"]),
    ("l2", lambda: LSTMModel({"l2": 1e-4}), ValueError, ["did you mean 'weight_decay'"]),
    ("gradient_clip_val", lambda: LSTMModel({"gradient_clip_val": 1.0}), ValueError, ["did you mean 'clip_norm'"]),
    ("validation_split in config", lambda: LSTMModel({"validation_split": 0.1}), ValueError,
     ["fit() arguments", "model.fit(X, y, validation_split="]),
    ("verbose as keyword", lambda: LSTMModel(verbose=True), ValueError, ["'verbose'", "fit() arguments"]),
    ("normalize dict with a bad strategy", lambda: LSTMModel({"normalize": {"method": "minmaxx"}}), ValueError,
     ["config['normalize']", "minmaxx"]),
    ("normalize reversed feature_range", lambda: LSTMModel(
        {"normalize": {"method": "minmax", "feature_range": (1, 0)}}), ValueError, ["config['normalize']",
                                                                                   "feature_range"]),
    ("normalize a number", lambda: LSTMModel(normalize=3), ValueError, ["config['normalize']", "zscore"]),
    ("config positional int", lambda: LSTMModel(32), ValueError, ["dict", "hidden_size=32"]),
    ("normalizer unknown key", lambda: DataNormalizer({"mthod": "zscore"}), ValueError, ["mthod", "method"]),
    ("normalizer bad range", lambda: DataNormalizer({"method": "minmax", "feature_range": (1, 0)}), ValueError,
     ["feature_range"]),
]
if not cupy_available:
    CASES.append(("cuda without GPU", lambda: LSTMModel({**CFG, "device": "cuda"}).fit(X2, s), RuntimeError,
                  ["CuPy", "pip install", "device='cpu'"]))


@pytest.mark.parametrize("name,action,exc,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_clearly(name, action, exc, words):
    with pytest.raises(exc) as e:
        action()
    assert isinstance(e.value, MiniLSTMError), f"{name}: {type(e.value).__name__} is not a MiniLSTMError"
    assert not isinstance(e.value, (AttributeError, IndexError))
    for w in words:
        assert w in str(e.value), f"{name}: {w!r} not in {str(e.value)!r}"


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


def test_a_failed_load_does_not_touch_the_file(tmp_path):
    p = tmp_path / "garbage.pkl"
    p.write_bytes(b"not a model at all")
    with pytest.raises(MiniLSTMError):
        LSTMModel().load(p)
    assert p.read_bytes() == b"not a model at all"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_check_counts_exactly_whatever_the_sum(dtype):
    """check_finite's one-pass answer (the sum is finite) never passes a NaN or Inf, and finite values whose sum
    overflows are not refused: the exact count decides."""
    from minilstm.errors import DataError
    from minilstm.validate import check_finite
    big = np.full((3, 5), np.finfo(dtype).max / 2, dtype=dtype)           # finite, but the sum overflows
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")                                   # the overflow is neither raised nor warned
        assert check_finite(big, "x") is big
    for bad, where in ((np.nan, (0, 0)), (np.inf, (2, 4)), (-np.inf, (1, 3))):
        a = np.ones((3, 5), dtype=dtype)
        a[where] = bad
        with pytest.raises(DataError, match=rf"1 NaN or Inf value\(s\) \(first at index {re.escape(str(where))}\)"):
            check_finite(a, "x")
    a = big.copy()
    a[1, 1], a[2, 2] = np.inf, -np.inf                                   # the sum of the two Infs is NaN
    with np.errstate(all="raise"), pytest.raises(DataError, match=r"2 NaN or Inf"):
        check_finite(a, "x")


def test_horizon_zero_with_the_target_among_the_inputs_is_refused_not_leaked():
    """horizon=0 means y is already shifted; where X holds the target itself, a window would hold its own answer."""
    import pandas as pd

    from minilstm.errors import ConfigError
    y = 10 + np.cumsum(np.random.default_rng(0).normal(0, 1, 120))
    df = pd.DataFrame({"a": y, "b": np.sin(np.arange(120))})
    cfg = {"sequence_length": 6, "horizon": 0, "epochs": 1, "hidden_size": 4}
    for fit in (lambda m: m.fit(y, verbose=False),                     # y omitted: the series forecasts itself
                lambda m: m.fit(df, "a", verbose=False),                # a named column of X
                lambda m: m.fit(df, y, verbose=False)):                 # a y equal to a column of X
        m = LSTMModel(cfg)
        with pytest.raises(ConfigError, match=r"horizon=0 .* column 0 of X holds target 0 .* horizon=1"):
            fit(m)
        assert not m.is_fitted
    shifted = np.r_[y[1:], np.nan][:-1]                                 # y already shifted: allowed
    m = LSTMModel(cfg).fit(df[:-1], shifted, verbose=False)
    assert m.is_fitted and m.config["horizon"] == 0
