"""The configuration of ``LSTMModel``: defaults, documentation and validation of every key."""
import numbers

from ..errors import ConfigError
from .normalizer import METHODS, ROW_WISE

DEFAULTS = {
    "input_size": None,        # features per row; inferred in fit (a given value must match the data)
    "hidden_size": 64,         # LSTM units per layer
    "num_layers": 2,           # stacked LSTM layers
    "output_size": None,       # target columns; inferred in fit (a given value must match y)
    "dropout": 0.2,            # inverted dropout between LSTM layers, in [0, 1)
    "learning_rate": 0.001,    # Adam's step size (AdamW when weight_decay > 0)
    "epochs": 100,             # maximum epochs (early stopping may end sooner)
    "batch_size": 32,          # windows per mini-batch
    "sequence_length": 20,     # rows per window (L)
    "device": "auto",          # 'cpu', 'cuda' or 'auto' (GPU when CuPy sees one)
    "seed": 0,                 # seeds weights, dropout and shuffling: same seed, same result on CPU
    "horizon": 1,              # window [j, j+L) predicts y[j+L-1+horizon]; 0 if y is already shifted
    "weight_decay": 0.0,       # decoupled weight decay (AdamW) when > 0
    "clip_norm": 1.0,          # global gradient-norm clipping threshold (None to disable)
    "patience": 10,            # epochs without val improvement before stopping (None to disable)
    "min_delta": 0.0,          # an improvement must beat the best val loss by more than this
    "lr_schedule": None,       # None, 'cosine', 'step' (halve every epochs//4), 'plateau' (halve after 3 flat epochs)
    "shuffle": True,           # shuffle training windows every epoch (seeded)
    "dtype": "float32",        # 'float32' or 'float64'
    "normalize": "zscore",     # None/False, True (zscore), a DataNormalizer method, or a DataNormalizer config dict
    "target_columns": None,    # indices of X's columns that are the targets (enables recursive forecasts; y optional)
    "output_steps": 1,         # k > 1: predict k future steps at once (direct multi-step)
    "kernels": "auto",         # 'auto', 'numpy' (reference), 'numba' (CPU) or 'cuda'
    "loss": "mse",             # 'mse', 'mae' or 'huber'
    "season": None,            # season length for the seasonal-naive baseline (None: inferred)
}


def _int(cfg, key, lo, allow_none=False):
    v = cfg[key]
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
        raise ConfigError(f"config[{key!r}] must be an integer >= {lo}" + (" or None" if allow_none else "") +
                          f", got {v!r}.")


def _float(cfg, key, lo, hi=None, lo_open=False, allow_none=False):
    v = cfg[key]
    if v is None and allow_none:
        return
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v
    ok = ok and (v > lo if lo_open else v >= lo) and (hi is None or v < hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else 'inf'})"
        raise ConfigError(f"config[{key!r}] must be a number in {rng}" + (" or None" if allow_none else "") +
                          f", got {v!r}.")


def validate_config(config):
    """Merge ``config`` over DEFAULTS and check every value; unknown keys are an error listing the valid ones."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a dict, got {type(config).__name__}.")
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        import difflib
        hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, DEFAULTS, 1)[0]!r}?)"
                 if difflib.get_close_matches(k, DEFAULTS, 1) else repr(k) for k in unknown]
        raise ConfigError(f"unknown config key(s) {', '.join(hints)}. Valid keys: {', '.join(DEFAULTS)}.")
    cfg = {**DEFAULTS, **config}
    for key in ("hidden_size", "num_layers", "epochs", "batch_size", "sequence_length", "output_steps"):
        _int(cfg, key, 1)
    _int(cfg, "input_size", 1, allow_none=True)
    _int(cfg, "output_size", 1, allow_none=True)
    _int(cfg, "horizon", 0)
    _int(cfg, "seed", 0)
    _int(cfg, "patience", 1, allow_none=True)
    _int(cfg, "season", 1, allow_none=True)
    _float(cfg, "dropout", 0.0, 1.0)
    _float(cfg, "learning_rate", 0.0, lo_open=True)
    _float(cfg, "weight_decay", 0.0)
    _float(cfg, "clip_norm", 0.0, lo_open=True, allow_none=True)
    _float(cfg, "min_delta", 0.0)
    if cfg["lr_schedule"] not in (None, "constant", "cosine", "step", "plateau"):
        raise ConfigError(f"config['lr_schedule'] must be None, 'cosine', 'step' or 'plateau', got {cfg['lr_schedule']!r}.")
    if not isinstance(cfg["shuffle"], bool):
        raise ConfigError(f"config['shuffle'] must be True or False, got {cfg['shuffle']!r}.")
    if cfg["dtype"] not in ("float32", "float64"):
        raise ConfigError(f"config['dtype'] must be 'float32' or 'float64', got {cfg['dtype']!r}.")
    if cfg["loss"] not in ("mse", "mae", "huber"):
        raise ConfigError(f"config['loss'] must be 'mse', 'mae' or 'huber', got {cfg['loss']!r}.")
    if cfg["device"] not in ("cpu", "cuda", "auto"):
        raise ConfigError(f"config['device'] must be 'cpu', 'cuda' or 'auto', got {cfg['device']!r}.")
    if cfg["kernels"] not in ("auto", "numpy", "numba", "cuda"):
        raise ConfigError(f"config['kernels'] must be 'auto', 'numpy', 'numba' or 'cuda', got {cfg['kernels']!r}.")
    for key, v in cfg.items():  # NumPy scalars -> plain Python numbers (the config is saved as JSON)
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            cfg[key] = int(v)
        elif isinstance(v, numbers.Real) and not isinstance(v, (bool, int)):
            cfg[key] = float(v)
    norm = cfg["normalize"]
    method = norm.get("method", "zscore") if isinstance(norm, dict) else ("zscore" if norm is True else norm)
    if norm not in (None, False) and method not in METHODS:
        raise ConfigError(f"config['normalize'] must be None, True, one of {METHODS} or a DataNormalizer config, "
                          f"got {norm!r}.")
    if norm not in (None, False) and method not in ROW_WISE:
        raise ConfigError(f"config['normalize'] = {method!r} changes each row by its predecessor, which a model of "
                          f"independent windows cannot invert per prediction; use one of {ROW_WISE}, or transform "
                          "the series with DataNormalizer yourself before fit.")
    tc = cfg["target_columns"]
    if tc is not None:
        if isinstance(tc, numbers.Integral) and not isinstance(tc, bool):
            tc = [int(tc)]
        if not isinstance(tc, (list, tuple)) or not tc or not all(
                isinstance(i, numbers.Integral) and not isinstance(i, bool) and i >= 0 for i in tc):
            raise ConfigError(f"config['target_columns'] must be a non-empty list of column indices, got {tc!r}.")
        if len(set(tc)) != len(tc):
            raise ConfigError(f"config['target_columns'] has repeated columns: {tc!r}.")
        cfg["target_columns"] = [int(i) for i in tc]
    return cfg
