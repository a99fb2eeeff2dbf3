"""The GRU reference under its first address: ``minilstm.core.gru`` holds it (this module re-exports it)."""
from .core.gru import *  # noqa: F403
from .core.gru import __all__  # noqa: F401
