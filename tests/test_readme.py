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


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i, tmp_path):
    r = subprocess.run([sys.executable, "-c", BLOCKS[i]], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, MPLBACKEND="Agg"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
