"""``LSTMModel.gate_activations``: the gates of one window a fitted model reads, for looking inside it."""
import numpy as np

from ..backend import to_numpy
from ..errors import ConfigError, DataError
from .windows import n_windows, sliding_windows


def window_gates(model, Xa, window, layer, direction):
    """Rows Xa (N, F) in original units -> {gate: (sequence_length, hidden_size)} of window ``window`` of the
    rows the network reads (after the normalizer; with known-future columns, each row with its leads) at
    ``layer``, ``direction``; eval mode (no dropout)."""
    L, rnn = model.config["sequence_length"], model.lstm
    rows = model._nx(Xa)
    n = n_windows(len(rows), L)
    if n < 1:
        raise DataError(f"X has {len(Xa)} rows; gate_activations needs at least sequence_length = {L}"
                        + (f" plus the {len(Xa) - len(rows)} rows the known-future columns read" if len(rows) <
                           len(Xa) else "") + ".")
    for name, v, size in (("window", window, n), ("layer", layer, rnn.num_layers)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not -size <= v < size:
            raise ConfigError(f"{name} must be an integer in [{-size}, {size - 1}] ({size} "
                              f"{'windows in X' if name == 'window' else 'layers'}), got {v!r}.")
    xw = sliding_windows(rows, L)[int(window)][None]                          # (1, L, F)
    wt = model._transform()
    xw = xw if wt is None else wt.inputs(xw)[0]                               # what the network reads
    rnn.eval()
    try:
        rnn.forward(model.xp.asarray(np.ascontiguousarray(xw), dtype=rnn.dtype))
        acts = rnn.gate_activations(int(layer), direction=direction)
    finally:
        rnn.train()
    return {k: np.array(to_numpy(v)[0], dtype=np.float64) for k, v in acts.items()}
