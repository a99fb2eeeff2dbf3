"""The bidirectional wrapper under its first address: ``minilstm.core.bidirectional`` holds it (re-exported here)."""
from .core.bidirectional import as_states, bidirectional_backward, bidirectional_forward, reverse_time  # noqa: F401
