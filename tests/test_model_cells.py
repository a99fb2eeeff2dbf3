"""LSTMModel with config['cell'] = 'lstm' | 'gru' and config['bidirectional']: training, the head's inputs,
gradients of the whole network, evaluation, and model files (files saved without these keys still load)."""
import json
import zipfile

import numpy as np
import pytest

from minilstm import GRU, LSTM, LSTMModel
from minilstm.errors import ConfigError
from minilstm.forecast.config import validate_config
from minilstm.forecast.training import build_network, n_parameters
from minilstm.gradcheck import check_function

CELLS = [("lstm", False), ("lstm", True), ("gru", False), ("gru", True)]


def series(n=160, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) / 6.0) + 0.1 * rng.standard_normal(n)


def small(cell, bidirectional, **kw):
    return {"hidden_size": 6, "num_layers": 2, "epochs": 2, "sequence_length": 8, "batch_size": 16, "cell": cell,
            "bidirectional": bidirectional, "seed": 1, **kw}


@pytest.mark.parametrize("cell,bidirectional", CELLS)
def test_fit_evaluate_save_load(cell, bidirectional, tmp_path):
    s = series()
    model = LSTMModel(small(cell, bidirectional)).fit(s, s, verbose=False)
    assert isinstance(model.lstm, GRU if cell == "gru" else LSTM) and model.lstm.bidirectional == bidirectional
    assert model.head.params["W"].shape[0] == 6 * (2 if bidirectional else 1)
    assert any(k.startswith("lstm.l1_reverse.") for k in model.params) == bidirectional
    p = model.predict(s)
    assert p.shape == (len(s) - 8 + 1,) and np.isfinite(p).all()
    metrics = model.evaluate(s[-60:], s[-60:], verbose=False)
    assert np.isfinite(metrics["rmse"]) and "persistence" in metrics["baselines"]
    path = str(tmp_path / "m.minilstm")
    model.save(path)
    back = LSTMModel.load(path)
    assert back.config["cell"] == cell and back.config["bidirectional"] == bidirectional
    assert type(back.lstm) is type(model.lstm) and back.lstm.bidirectional == bidirectional
    np.testing.assert_array_equal(back.predict(s), p)


@pytest.mark.parametrize("cell,bidirectional", CELLS)
def test_network_gradients_and_what_the_head_reads(cell, bidirectional):
    H = 3
    cfg = validate_config(small(cell, bidirectional, dtype="float64", kernels="numpy", dropout=0.0, hidden_size=H))
    net = build_network(cfg, 2, 1)
    assert sum(v.size for v in net.params.values()) == n_parameters(2, H, 2, 1, cell, 2 if bidirectional else 1)
    rng = np.random.default_rng(3)
    xb = rng.standard_normal((2, 4, 2))
    out, _ = net.lstm.forward(xb)
    read = np.concatenate([out[:, -1, :H], out[:, 0, H:]], axis=1) if bidirectional else out[:, -1, :]
    np.testing.assert_array_equal(net.forward(xb), net.head.forward(read))   # forward's last, reverse's first
    keys = list(net.params)

    def fwd(**p):
        net.set_params({k: p[k.replace(".", "_")] for k in keys})
        return net.forward(xb)

    base = {k.replace(".", "_"): v.copy() for k, v in net.params.items()}

    def bwd(G):
        net.set_params({k: base[k.replace(".", "_")] for k in keys})
        net.forward(xb)
        return {k.replace(".", "_"): v for k, v in net.backward(G).items()}

    report = check_function(fwd, bwd, base, tol=1e-6)
    assert report.passed, str(report)


def test_files_saved_without_cell_keys_still_load(tmp_path):
    s = series()
    model = LSTMModel(small("lstm", False)).fit(s, s, verbose=False)
    path, old = str(tmp_path / "new.minilstm"), str(tmp_path / "old.minilstm")
    model.save(path)
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(old, "w") as out:   # a file written before the keys existed
        for name in z.namelist():
            data = z.read(name)
            if name == "metadata.json":
                meta = json.loads(data)
                assert meta["config"].pop("cell") == "lstm" and meta["config"].pop("bidirectional") is False
                data = json.dumps(meta).encode()
            out.writestr(name, data)
    back = LSTMModel.load(old)
    assert back.config["cell"] == "lstm" and back.config["bidirectional"] is False
    np.testing.assert_array_equal(back.predict(s), model.predict(s))


def test_cell_and_bidirectional_are_validated():
    with pytest.raises(ConfigError, match="'lstm' or 'gru'"):
        LSTMModel({"cell": "rnn"})
    with pytest.raises(ConfigError, match="bidirectional"):
        LSTMModel({"bidirectional": "yes"})
    assert LSTMModel({"bidirectional": np.bool_(True)}).config["bidirectional"] is True
    with pytest.raises(ConfigError, match="cell"):
        LSTMModel({"rnn_type": "gru"})                     # another library's name: the message names the key


def test_gru_gates_of_both_directions_and_their_plot(tmp_path):
    from minilstm.plotting import plot_gates
    s = series()
    model = LSTMModel(small("gru", True, epochs=1)).fit(s, s, verbose=False)
    fwd, rev = model.gate_activations(s, direction=0), model.gate_activations(s, direction=1)
    assert set(fwd) == set(rev) == {"r", "z", "n", "h"} and all(v.shape == (8, 6) for v in rev.values())
    assert not np.allclose(fwd["h"], rev["h"])
    with pytest.raises(ConfigError, match="direction"):
        model.gate_activations(s, direction=2)
    plot_gates(rev, path=str(tmp_path / "gates.png"))
    assert (tmp_path / "gates.png").stat().st_size > 0


def test_demo_command_takes_cell_and_bidirectional(monkeypatch, tmp_path):
    from minilstm import cli, demo
    seen = {}

    class Stop(Exception):
        pass

    def fake_train_demo(seed, epochs, device, verbose=True, cell="lstm", bidirectional=False, data=None):
        seen.update(cell=cell, bidirectional=bidirectional)
        raise Stop

    monkeypatch.setattr(demo, "train_demo", fake_train_demo)
    for argv, want in ((["--cell", "gru", "--bidirectional"], ("gru", True)), ([], ("lstm", False))):
        with pytest.raises(Stop):
            cli.main(["demo", "--quiet", "--out", str(tmp_path), *argv])
        assert (seen["cell"], seen["bidirectional"]) == want
