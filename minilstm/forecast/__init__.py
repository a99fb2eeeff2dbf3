"""Forecasting on top of the engine: LSTMModel, DataNormalizer, metrics, baselines, the model file,
backtests, LSTMEnsemble and sweeps (their fits run through ``parallel``: joblib, Dask, Ray),
and the one training loop (``training``: Network, build_network, train) that every fit goes through."""
from . import training
from .backtesting import BacktestResult, backtest
from .config import DEFAULTS
from .ensemble import LSTMEnsemble
from .metrics import regression_metrics
from .model import LSTMModel
from .normalizer import DataNormalizer
from .parallel import run_parallel
from .training import Network, TrainResult, build_network
from .tuning import SweepResult, sweep
from .windows import n_labeled, n_windows, sliding_windows, window_targets

__all__ = ["DEFAULTS", "BacktestResult", "DataNormalizer", "LSTMEnsemble", "LSTMModel", "Network", "SweepResult",
           "TrainResult", "backtest", "build_network", "n_labeled", "n_windows", "regression_metrics", "run_parallel",
           "sliding_windows", "sweep", "training", "window_targets"]
