"""The reference: each cell's equations as pure functions (step and sequence, forward and backward).

- ``minilstm.core.lstm``: the LSTM (f, i, c~, o; ``lstm_step_forward`` ... ``lstm_backward``);
- ``minilstm.core.gru``: the GRU in PyTorch's/cuDNN's form (r, z, n; ``gru_step_forward`` ... ``gru_backward``);
- ``minilstm.core.common``: what both use (stable sigmoid, input projection, initial states, carried gradients);
- ``minilstm.core.bidirectional``: one wrapper over either cell's sequence functions.

Written once against ``xp`` (NumPy or CuPy); the fast paths in ``minilstm.kernels`` are tested against it.
The LSTM's names are importable from here as before (``from minilstm.core import lstm_forward``).
"""
from . import bidirectional, common, gru, lstm  # noqa: F401
from .common import carried_gradients, initial_states, input_projection, sigmoid
from .lstm import (
    CACHE_KEYS,
    GATES,
    activate_gates,
    gate_activations,
    gate_slices,
    gates_backward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    sequence_buffers,
    sequence_outputs,
    weights_backward,
)

__all__ = ["CACHE_KEYS", "GATES", "activate_gates", "carried_gradients", "gate_activations", "gate_slices",
           "gates_backward", "initial_states", "input_projection", "lstm_backward", "lstm_forward",
           "lstm_step_backward", "lstm_step_forward", "sequence_buffers", "sequence_outputs", "sigmoid",
           "weights_backward"]
