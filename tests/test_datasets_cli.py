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


def test_electricity_frame_is_hourly_across_daylight_saving_changes():
    e = datasets.load_electricity()
    local = e.index
    assert len(local) - len(np.unique(local)) == 3            # the naive wall-clock labels repeat 02:00 each April
    f = e.frame
    assert f.index.is_unique and str(f.index.tz) == "Australia/Melbourne"
    regular = f.asfreq("h")
    assert len(regular) == len(f) and np.array_equal(regular.to_numpy(), f.to_numpy())
    assert (np.diff(e.extra["utc"]) == np.timedelta64(1, "h")).all()
    # the two 02:00s of 1 April 2012 are told apart by their offsets, and the wall clock agrees with ds.index
    twice = f.loc["2012-04-01 01:00":"2012-04-01 03:00"].index
    assert [str(t) for t in twice] == ["2012-04-01 01:00:00+11:00", "2012-04-01 02:00:00+11:00",
                                       "2012-04-01 02:00:00+10:00", "2012-04-01 03:00:00+10:00"]
    assert np.array_equal(f.index.tz_localize(None).to_numpy().astype("datetime64[m]"), local)
    assert f.attrs["units"]["Demand"] == "MW" and f.attrs["season"] == e.season == 24


def test_package_metadata_states_the_bundled_data_licences():
    import tomllib
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    assert project["license"] == "MIT AND GPL-3.0-only"
    assert "minilstm/datasets/PROVENANCE.md" in project["license-files"]
    prov = open(os.path.join(root, "minilstm", "datasets", "PROVENANCE.md")).read()
    assert prov.count("GPL-3") >= 2 and "MIT" in prov


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


def _help(argv, capsys):
    from minilstm import cli
    try:
        cli.main(argv)
    except SystemExit as e:
        assert e.code == 0
    return capsys.readouterr().out


def test_help_is_plain_text_and_says_what_each_command_does(capsys):
    import minilstm
    top = _help(["--help"], capsys)
    assert "``" not in top and "demo" in top and "gradcheck" in top and "--version" in top
    demo = _help(["demo", "--help"], capsys)
    for words in ("one hour ahead", "idle 2-core", "measured", "--epochs 2 or MINILSTM_FAST=1", "first run",
                  "lstm_model.minilstm", "history.png", "forecast.png", "gates.png",
                  "files of an earlier run there are replaced"):
        assert words in demo, words
    grad = _help(["gradcheck", "--help"], capsys)
    assert "kernels training uses" in grad and "NumPy reference" in grad and "--kernels" in grad
    assert _help(["--version"], capsys).startswith(f"minilstm {minilstm.__version__} (numpy ")


def test_demo_help_and_readme_state_the_same_timings(capsys):
    """The timings a newcomer reads in --help are the README's: one source (cli.DEMO_TIME), checked here."""
    from minilstm.cli import DEMO_TIME
    readme = open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md")).read()
    demo = " ".join(_help(["demo", "--help"], capsys).split())
    first_line = readme.split("```bash", 1)[1].splitlines()[1]
    assert f"({DEMO_TIME['warm_s']} s on 2 cores; {DEMO_TIME['cold_s']} s the first time)" in first_line
    results = " ".join(readme.split("## Demo results", 1)[1].split("##", 1)[0].split())
    for key in ("warm_s", "cold_s", "fast_warm_s", "fast_cold_s", "epoch_s"):
        assert f"{DEMO_TIME[key]} s" in demo, key
        assert f"{DEMO_TIME[key]} s" in results, key
