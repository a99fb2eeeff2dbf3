import os
import subprocess
import sys

import numpy as np

from minilstm import datasets


def test_bundled_series_are_real_and_complete():
    e = datasets.load_electricity()
    assert e.data.shape == (26304, 8) and e.target == "Demand" and e.units == "MW"
    d = e.column("Demand")
    assert 2800 < d.min() < 3500 and 8000 < d.max() < 9500 and abs(d.mean() - 4665) < 10
    assert str(e.index[0]) == "2012-01-01T00:00" and e.split("2014-01-01") == 2 * 8760 + 24
    assert np.isfinite(e.data).all()
    s = datasets.load_stocks()
    assert s.data.shape == (1258, 4) and s.columns == ["AAPL", "AMZN", "FB", "GOOG"]
    assert abs(s.column("AAPL")[0] - 79.01857) < 1e-6
    w = datasets.load_weather()
    assert w.data.shape == (1461, 4) and len(w.extra["weather"]) == 1461
    here = os.path.dirname(datasets.__file__)
    assert os.path.exists(os.path.join(here, "PROVENANCE.md"))
    total = sum(os.path.getsize(os.path.join(here, "data", f)) for f in os.listdir(os.path.join(here, "data")))
    assert total < 1_000_000


def test_gradcheck_command_passes_and_prints_table():
    r = subprocess.run([sys.executable, "-m", "minilstm", "gradcheck"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ALL PASS" in r.stdout and "rel error" in r.stdout and "l1_W_h" in r.stdout


def test_demo_command_runs_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minilstm", "demo", "--epochs", "1", "--out", str(tmp_path),
                        "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "persistence" in r.stdout and "linear_ar" in r.stdout and "MW" in r.stdout
    for f in ("lstm_model.minilstm", "history.png", "forecast.png", "gates.png"):
        assert (tmp_path / f).stat().st_size > 1000
