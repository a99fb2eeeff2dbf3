"""The compiled kernels' disk cache where the package folder cannot be written (a system-wide or read-only
install): Numba then caches into the user's cache folder (``$XDG_CACHE_HOME/numba``, or NUMBA_CACHE_DIR when
set), and a second process loads every kernel from there instead of compiling it again."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import json, sys
import numba.core.caching as caching
from numba.core.registry import CPUDispatcher
# the package folder is not writable: Numba's in-tree cache is refused, as on a read-only install
caching.InTreeCacheLocator.from_function = classmethod(lambda cls, py_func, py_file: None)
import numpy as np
from minilstm import LSTMModel
import minilstm.kernels as kernels
LSTMModel(hidden_size=4, num_layers=1, sequence_length=8, epochs=1, batch_size=8, kernels="numba",
          seed=0).fit(np.sin(np.arange(80.0) / 3), verbose=False)
hits = misses = 0
for name, module in list(sys.modules.items()):
    if name.startswith("minilstm.kernels"):
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and obj.signatures:
                hits += sum(obj.stats.cache_hits.values())
                misses += sum(obj.stats.cache_misses.values())
print(json.dumps({"hits": hits, "misses": misses}))
"""


def run(env):
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_kernels_cache_in_the_user_folder_when_the_package_folder_is_read_only(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=REPO + os.pathsep + env.get("PYTHONPATH", ""),
               NUMBA_DISABLE_JIT="0")
    first = run(env)
    assert first["misses"] > 0                                          # compiled, nothing to load yet
    cached = [f for _, _, files in os.walk(tmp_path / "numba") for f in files if f.endswith(".nbi")]
    assert cached                                                       # written to the user's cache folder
    second = run(env)
    assert second["hits"] > 0 and second["misses"] == 0                 # a new process compiles nothing again
