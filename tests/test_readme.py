"""The README's code examples run as written, and its first lines are the two commands."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
README = open(os.path.join(ROOT, "README.md")).read()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_starts_with_the_two_commands():
    first = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert first[0].startswith("pip install -e . && python -m minilstm demo")
    assert "python -m pytest" in first[1]
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert "python3 -m pytest -q" in ci and '.[dev]' in ci and "torch==2.13.0" in ci
    # CI proves the first command on a core install: .ci/newcomer runs it from the README in a fresh venv
    assert "bash .ci/newcomer" in ci.split("pip install")[0]
    newcomer = open(os.path.join(ROOT, ".ci", "newcomer")).read()
    assert "python3 -m venv" in newcomer and '"$work/first.sh"' in newcomer and "## Basic usage" in newcomer
    assert ".[" not in newcomer and "pip install" not in newcomer     # exactly the README's line, no extras


def print_statements(block):
    """(first line, the line after the statement) of every top-level print call in a code block."""
    lines = block.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("print("):
            j = i + 1
            while j < len(lines) and lines[j].startswith((" ", ")")):
                j += 1
            out.append((line, lines[j] if j < len(lines) else ""))
    return out


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_shows_what_it_prints(i):
    for statement, after in print_statements(BLOCKS[i]):
        assert after.startswith("#> "), f"README block {i}: {statement!r} is not followed by its output (#> lines)"


def test_output_check_finds_a_missing_output():
    assert print_statements("print(1)\n#> 1\nprint(f'{2}',\n      3)\nx = 1\n") == [
        ("print(1)", "#> 1"), ("print(f'{2}',", "x = 1")]


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i, tmp_path):
    r = subprocess.run([sys.executable, "-c", BLOCKS[i]], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, MPLBACKEND="Agg"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
