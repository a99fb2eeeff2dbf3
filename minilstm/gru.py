"""The GRU reference under its first address: ``minilstm.core.gru`` holds it (this module re-exports its names)."""
from .core.gru import *  # noqa: F403
