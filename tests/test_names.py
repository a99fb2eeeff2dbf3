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


def test_a_gru_model_reports_as_a_gru():
    from minilstm.forecast.report import evaluation_report
    rng = np.random.default_rng(0)
    y = rng.standard_normal((40, 1))
    truth = y[10:, None, :]
    res = evaluation_report(truth, truth + 0.1, y, 30, 10, 1, 1, np.ones(1), truth, 1, "given", model="GRU")
    assert res.table().splitlines()[2].startswith("GRU (minilstm)")
    assert list(res.rows())[0] == "GRU (minilstm)"


def test_no_module_is_shadowed_by_a_function():
    import importlib
    import pkgutil
    import types

    import minilstm
    for info in pkgutil.walk_packages(minilstm.__path__, "minilstm."):
        parent, _, name = info.name.rpartition(".")
        attr = getattr(importlib.import_module(parent), name, None)
        if attr is not None:
            assert isinstance(attr, types.ModuleType), f"{parent}.{name} is a {type(attr).__name__}, not the module"


def test_baselines_are_small_models():
    from minilstm.forecast import baselines as B
    y = np.arange(30, dtype=float)[:, None]
    assert np.array_equal(B.Persistence().fit(y).predict(y, 5, 10, 1), B.persistence_forecast(y, 5, 10, 1))
    assert np.array_equal(B.SeasonalNaive(7).fit(y).predict(y, 5, 10, 1), B.seasonal_naive_forecast(y, 5, 10, 1, 7))
    assert np.allclose(B.TrainingMean().fit(y).predict((5, 1, 1)), 14.5)
    assert not B.Zero().fit(y).predict((5, 1, 1)).any()
