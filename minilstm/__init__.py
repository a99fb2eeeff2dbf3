"""minilstm: a from-scratch LSTM engine (hand-written forward pass and BPTT) for learning and forecasting."""
from ._version import __version__  # noqa: F401

from . import core, functional, gradcheck, gru, interop, optim  # noqa: F401  (gru: minilstm.core.gru's first address)
from .backend import get_array_module, to_numpy  # noqa: F401
from .core import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward  # noqa: F401
from .errors import MiniLSTMError  # noqa: F401
from .nn import GRU, LSTM, Linear  # noqa: F401
from .forecast import DataNormalizer, LSTMEnsemble, LSTMModel  # noqa: F401,E402
from . import datasets  # noqa: F401,E402
