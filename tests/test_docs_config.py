"""The documentation build's setup: one command in the README, Read the Docs running the same build,
and the docs extension's own rules (the commands shown for the benchmark results, the execution
cache's fingerprint, what counts as a public name). The built site itself: test_docs_browser.py."""
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = 'pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html'


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_the_readme_gives_the_build_command_and_the_entry_page():
    section = read("README.md").split("## Documentation", 1)[1].split("\n## ", 1)[0]
    assert COMMAND in section and "docs/index.md" in section
    assert COMMAND in read("docs", "README.md")
    assert "python3 -m sphinx -W -b html docs docs/_build/html" in read(".ci", "run")
    assert "tests/test_docs_browser.py" in read(".ci", "run")


def test_read_the_docs_runs_the_same_build():
    rtd = read(".readthedocs.yaml")
    assert re.search(r"configuration:\s*docs/conf.py", rtd)
    assert re.search(r"fail_on_warning:\s*true", rtd)
    assert re.search(r"extra_requirements:\s*\n\s*-\s*docs", rtd)
    assert re.search(r'^docs = \[', read("pyproject.toml"), re.M)


def test_every_tutorial_is_a_page():
    # docs/tutorials is the repository's tutorials/ folder, and the tutorials' page globs it
    docs_tutorials = os.path.realpath(os.path.join(ROOT, "docs", "tutorials"))
    assert docs_tutorials == os.path.realpath(os.path.join(ROOT, "tutorials"))
    assert re.search(r":glob:\s*\n\s*\ntutorials/\*", read("docs", "tutorials.md"))


@pytest.fixture(scope="module")
def ext():
    pytest.importorskip("sphinx", reason='the docs extra is not installed (pip install -e ".[docs]")')
    sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))
    try:
        import minilstm_docs
        yield minilstm_docs
    finally:
        sys.path.remove(os.path.join(ROOT, "docs", "_ext"))


def test_result_command_comes_from_the_result_files(ext):
    assert ext.result_command("peers_x", "", {"command": "python benchmarks/bench_peers.py --label x"}) == \
        "python benchmarks/bench_peers.py --label x"
    assert ext.result_command("accuracy", "Taken with `python benchmarks/bench_accuracy.py --sides a` (18 min)",
                              None) == "python benchmarks/bench_accuracy.py --sides a"
    assert ext.result_command("cpu", "Measured on ...", {}) == "python benchmarks/bench_cpu.py"
    assert ext.result_command("cpu_default_malloc", "", {}) == "python benchmarks/bench_cpu.py --default-malloc"
    assert ext.result_command("unknown", "", None) is None


def test_every_result_file_gets_a_command(ext):
    import glob
    import json
    for md in glob.glob(os.path.join(ROOT, "benchmarks", "results", "*.md")):
        stem = os.path.splitext(os.path.basename(md))[0]
        js = md[:-3] + ".json"
        meta = json.load(open(js)) if os.path.exists(js) else None
        assert ext.result_command(stem, read(md), meta), stem


def test_fingerprint_ignores_docstrings_not_code(ext, tmp_path):
    pkg = tmp_path / "minilstm"
    pkg.mkdir()
    (pkg / "m.py").write_text('def f(x):\n    """Old words."""\n    return x + 1\n')
    before = ext.code_fingerprint(str(tmp_path))
    (pkg / "m.py").write_text('def f(x):\n    """New words, |x| and all."""\n    return x + 1\n')
    assert ext.code_fingerprint(str(tmp_path)) == before
    (pkg / "m.py").write_text('def f(x):\n    """New words, |x| and all."""\n    return x + 2\n')
    assert ext.code_fingerprint(str(tmp_path)) != before


def test_public_names_and_their_resolution(ext):
    import minilstm
    import minilstm.forecast
    names = ext.public_names("minilstm")
    assert names["minilstm.LSTMModel"] is minilstm.LSTMModel
    assert not any(n.split(".")[-1].startswith("_") for n in names)
    forecast = ext.public_names("minilstm.forecast")
    assert "minilstm.forecast.backtest" in forecast and "minilstm.forecast.DEFAULTS" not in forecast
    # a function named like its module resolves to the function, as Python reads the name
    assert ext.resolve("minilstm.forecast.backtest") is minilstm.forecast.backtest
    assert callable(ext.resolve("minilstm.forecast.backtest"))
    assert ext.resolve("minilstm.no_such_name") is None
