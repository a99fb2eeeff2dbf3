"""The compiled kernels' disk cache where the package folder cannot be written (a system-wide or read-only
install): Numba then caches into the user's cache folder (``$XDG_CACHE_HOME/numba``, or NUMBA_CACHE_DIR when
set), and a second process loads every kernel from there instead of compiling it again."""
import json
import os
import subprocess
import sys

import numpy as np
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


# ---- compile_ahead: a first training step's backward compiles in a helper process ------------------------
SIGNATURES = r"""
import json, sys
import numpy as np
from numba.core import event
seen = {}
class Recorder(event.Listener):
    def on_start(self, ev):
        pass
    def on_end(self, ev):
        d = ev.data["dispatcher"]
        if type(getattr(d, "_cache", None)).__name__ != "NullCache":        # the functions cached on disk
            seen.setdefault(d.py_func.__module__ + "." + d.py_func.__qualname__, set()).add(str(ev.data["args"]))
event.register("numba:compile", Recorder())
from minilstm.kernels import numba_cpu
for dtype in ("float32", "float64"):
    for B in (8, 64):                          # per-step products: vector tiles at 8 rows, gemm at 64 (two threads)
        if sys.argv[1] == "helper":
            numba_cpu.compile_backward(dtype, B, 3, 8)
        else:
            x = np.zeros((B, 2, 3), dtype)
            params = {"W_x": np.zeros((3, 32), dtype), "W_h": np.zeros((8, 32), dtype), "b": np.zeros(32, dtype)}
            numba_cpu.lstm_forward(x, None, None, params)
print(json.dumps({k: sorted(v) for k, v in seen.items()}))
"""


def compiled_by(role, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), MINILSTM_COMPILE_AHEAD="0", NUMBA_DISABLE_JIT="0",
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", SIGNATURES, role], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_the_helper_and_the_forward_never_compile_one_function_at_different_types(tmp_path):
    """Numba updates a function's cache index by read-modify-write: two processes saving different types of one
    function at once could pair an entry with the other's code. So every cached function the helper compiles is
    either not the forward's or compiled by both at the same types (which write the same entry)."""
    procs = {role: compiled_by(role, tmp_path / role) for role in ("helper", "forward")}
    seen = {}
    for role, proc in procs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        seen[role] = json.loads(out.strip().splitlines()[-1])
    assert "minilstm.kernels.numba_cpu._backward_rows" in seen["helper"]
    assert "minilstm.kernels.numba_cpu._forward_rows" in seen["forward"]
    shared = set(seen["helper"]) & set(seen["forward"])
    assert shared                                                       # callees both use (else this is vacuous)
    for name in shared:
        assert seen["helper"][name] == seen["forward"][name], name


FIT = r"""
import json, sys
import numpy as np
from numba.core.registry import CPUDispatcher
from minilstm import LSTMModel
from minilstm.kernels import compile_ahead, numba_cpu, numba_optim, rows
ready, _wait = [], compile_ahead.wait
def wait():                                  # is the optimizer's pass built when the first backward starts?
    _wait()
    ready.append(bool(numba_optim._adam_update_all.overloads) and bool(numba_optim._average_update_all.overloads))
compile_ahead.wait = wait
m = LSTMModel(hidden_size=6, num_layers=2, sequence_length=8, epochs=2, batch_size=16, kernels="numba",
              seed=0).fit(np.sin(np.arange(120.0) / 3), verbose=False)
backward = [numba_cpu._backward_rows, rows.backward_ranges]
print(json.dumps({"hits": sum(sum(d.stats.cache_hits.values()) for d in backward),
                  "misses": sum(sum(d.stats.cache_misses.values()) for d in backward), "optimizer_ready": ready[0],
                  "pred": m.predict(np.sin(np.arange(40.0) / 3)).ravel().tolist()}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the helper needs a second core")
def test_a_cold_first_fit_loads_its_backward_from_the_helper_and_learns_the_same(tmp_path):
    runs = {}
    for switch in ("on", "0"):
        env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / switch), MINILSTM_COMPILE_AHEAD=switch,
                   NUMBA_DISABLE_JIT="0", PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run([sys.executable, "-c", FIT, switch], env=env, capture_output=True, text=True,
                             timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        runs[switch] = json.loads(out.stdout.strip().splitlines()[-1])
    assert runs["on"]["hits"] > 0 and runs["on"]["misses"] == 0       # the backward came from the helper's cache
    assert runs["on"]["optimizer_ready"]                               # and Adam's pass compiled while it waited
    assert runs["0"]["hits"] == 0 and runs["0"]["misses"] > 0          # switched off: compiled here
    assert not runs["0"]["optimizer_ready"]                            # after the backward, as before
    assert runs["on"]["pred"] == runs["0"]["pred"]                     # and the same model, bitwise


class _Helper:
    """A stand-in for the helper process: its wait() records when it is called."""

    def __init__(self, log):
        self.log = log

    def wait(self, timeout=None):
        self.log.append("helper done")


def test_meanwhile_runs_its_tasks_while_the_helper_compiles_and_only_then(monkeypatch):
    from minilstm.kernels import compile_ahead as ahead
    log = []
    monkeypatch.setattr(ahead, "_MEANWHILE", [])
    monkeypatch.setattr(ahead, "_HELPER", {"proc": None, "tried": False})
    ahead.meanwhile(lambda: log.append("stale"))
    ahead.meanwhile(lambda: log.append("task"))                          # queued before the first forward: the latest
    ahead._HELPER.update(proc=_Helper(log), tried=True)                  # ... which started a helper
    ahead.wait()
    assert log == ["task", "helper done"] and ahead._MEANWHILE == []
    ahead.wait()                                                         # later backwards: nothing more
    assert log == ["task", "helper done"]
    ahead.meanwhile(lambda: log.append("late"))                          # the helper was tried and is done: dropped
    assert ahead._MEANWHILE == []
    ahead._HELPER.update(proc=_Helper(log))
    ahead.meanwhile(lambda: 1 / 0)                                       # a failing task is a lost head start only
    ahead.wait()
    assert log[-1] == "helper done"
    monkeypatch.setattr(ahead, "_HELPER", {"proc": None, "tried": False})
    monkeypatch.setenv("MINILSTM_COMPILE_AHEAD", "0")
    ahead.meanwhile(lambda: log.append("never"))
    assert not ahead.start((), "x:y") and ahead._MEANWHILE == []          # no helper starts: the queue is dropped


AFTER_GRU = r"""
import json, sys
import numpy as np
from minilstm.kernels import compile_ahead, numba_cpu, numba_gru, threads
threads.loop_threads = lambda B: 2                   # the threaded path, on any machine
if sys.argv[1] == "gru":                             # a GRU's threaded backward fills the shared driver's cache
    x = np.zeros((4, 2, 3))
    p = {"W_x": np.zeros((3, 12)), "W_h": np.zeros((4, 12)), "b_x": np.zeros(12), "b_h": np.zeros(12)}
    numba_gru.gru_backward(np.zeros((4, 2, 4)), None, numba_gru.gru_forward(x, None, p)[2])
    print(json.dumps({}))
else:                                                # a later process's first LSTM training forward
    x = np.zeros((2, 2, 3))
    p = {"W_x": np.zeros((3, 16)), "W_h": np.zeros((4, 16)), "b": np.zeros(16)}
    started = []
    real = compile_ahead.start
    compile_ahead.start = lambda *a: started.append(real(*a)) or started[-1]
    numba_cpu.lstm_forward(x, None, None, p)
    proc = compile_ahead._HELPER["proc"]
    if proc is not None:
        proc.kill()
    print(json.dumps({"started": started}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the helper needs a second core")
def test_a_gru_that_ran_before_does_not_cost_the_lstm_its_helper(tmp_path):
    """The backward's threaded driver is shared by both cells: a cache that holds the GRU's must not make an LSTM's
    first run look warm (only the LSTM's own backward decides), and a GRU backward waits for a running helper."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), MINILSTM_COMPILE_AHEAD="1", NUMBA_DISABLE_JIT="0",
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = {}
    for role in ("gru", "lstm"):
        out = subprocess.run([sys.executable, "-c", AFTER_GRU, role], env=env, capture_output=True, text=True,
                             timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        runs[role] = json.loads(out.stdout.strip().splitlines()[-1])
    assert runs["lstm"]["started"] == [True]


def test_a_threaded_gru_backward_waits_for_the_helper(monkeypatch):
    from minilstm.kernels import compile_ahead, numba_gru, threads
    calls = []
    monkeypatch.setattr(threads, "loop_threads", lambda B: 2)
    monkeypatch.setattr(compile_ahead, "wait", lambda: calls.append("wait"))
    x = np.zeros((4, 2, 3))
    p = {"W_x": np.zeros((3, 12)), "W_h": np.zeros((4, 12)), "b_x": np.zeros(12), "b_h": np.zeros(12)}
    numba_gru.gru_backward(np.zeros((4, 2, 4)), None, numba_gru.gru_forward(x, None, p)[2])
    assert calls == ["wait"]
