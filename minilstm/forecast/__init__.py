"""Forecasting on top of the engine: LSTMModel, DataNormalizer, metrics, baselines, the model file,
backtests, LSTMEnsemble and sweeps (their fits run through ``parallel``: joblib, Dask, Ray),
and the one training loop (``training``: Network, build_network, train) that every fit goes through."""
from .config import DEFAULTS  # noqa: F401
from .metrics import regression_metrics  # noqa: F401
from .model import LSTMModel  # noqa: F401
from .normalizer import DataNormalizer  # noqa: F401
from . import training  # noqa: F401
from .training import Network, TrainResult, build_network  # noqa: F401
from .backtesting import BacktestResult, backtest  # noqa: F401
from .ensemble import LSTMEnsemble  # noqa: F401
from .parallel import run_parallel  # noqa: F401
from .tuning import SweepResult, sweep  # noqa: F401
from .windows import n_labeled, n_windows, sliding_windows, window_targets  # noqa: F401
