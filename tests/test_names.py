"""Names say what they hold: layer reprs, the model's cell in its repr and attributes (old names kept)."""
import numpy as np

from minilstm import GRU, LSTM, Linear, LSTMModel
from minilstm.forecast.training import build_network


def test_layer_reprs_show_sizes_and_changed_settings():
    assert repr(LSTM(3, 16)) == "LSTM(3, 16)"
    assert repr(GRU(2, 4, bidirectional=True)) == "GRU(2, 4, bidirectional=True)"
    r = repr(LSTM(3, 8, num_layers=2, dropout=0.1, dtype=np.float32, kernels="numpy", forget_bias=1.0))
    assert r == "LSTM(3, 8, num_layers=2, dropout=0.1, dtype='float32', kernels='numpy', forget_bias=1.0)"
    assert repr(Linear(4, 1)) == "Linear(4, 1)"


def test_layer_docstrings_hold_the_equations():
    assert "C_t  = f_t * C_{t-1} + i_t * c~_t" in LSTM.__doc__
    assert "h_t = (1 - z_t) * n_t + z_t * h_{t-1}" in GRU.__doc__


def test_model_names_its_cell():
    m = LSTMModel(cell="gru", hidden_size=4)
    assert repr(m).startswith("LSTMModel(cell='gru', hidden_size=4,")
    net = build_network(m.config, 2, 1)
    assert isinstance(net.rnn, GRU) and net.lstm is net.rnn
    assert all(k.startswith(("lstm.", "head.")) for k in net.params)     # the saved names are unchanged
