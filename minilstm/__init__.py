"""minilstm: a from-scratch LSTM engine (hand-written forward pass and BPTT) for learning and forecasting."""
from . import core, datasets, functional, gradcheck, gru, interop, optim
from ._version import __version__
from .backend import get_array_module, to_numpy
from .core import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .errors import MiniLSTMError
from .forecast import DataNormalizer, LSTMEnsemble, LSTMModel
from .nn import GRU, LSTM, Linear

__all__ = ["GRU", "LSTM", "DataNormalizer", "LSTMEnsemble", "LSTMModel", "Linear", "MiniLSTMError", "__version__",
           "core", "datasets", "functional", "get_array_module", "gradcheck", "gru", "interop", "lstm_backward",
           "lstm_forward", "lstm_step_backward", "lstm_step_forward", "optim", "to_numpy"]
