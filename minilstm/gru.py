"""The GRU reference under its first address: ``minilstm.core.gru`` holds it (this module re-exports it)."""
from .core.gru import (GRU_CACHE_KEYS, GRU_GATES, GRU_PARAMS, gru_backward, gru_buffers, gru_forward,  # noqa: F401
                       gru_gate_activations, gru_gate_slices, gru_gates_backward, gru_gates_forward, gru_outputs,
                       gru_step_backward, gru_step_forward, gru_weights_backward)
