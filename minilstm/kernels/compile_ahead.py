"""The first run's compilation on two cores: the LSTM's backward compiles in a helper process.

On a fresh install every compiled kernel is built at its first call and kept in Numba's on-disk cache
(next to the package, or the user's cache folder). A first training step needs the forward pass (about
half of that work) and then the backward pass (the other half), one after the other, on one core. So the
first training forward of a process whose cache holds no LSTM backward yet (``start``) starts a helper
process that compiles the backward for the same types, on the second core, while this process compiles
the forward; the first backward (``wait``) waits for it and then loads the backward from the cache. While it
waits, this process compiles what the step needs after the backward (``meanwhile``: the optimizer's passes,
queued by ``optim.compile_ahead``; 1.0-1.2 s of the first run). Measured on 2 cores
(``benchmarks/bench_cold_start.py``): see the README's Basic usage.

The helper compiles only functions the forward does not, or the same ones with the same types, so the two
processes never write different entries of one function's cache index at once (Numba's index update is a
read-modify-write; ``tests/test_kernel_cache.py`` checks the two sets). The backward's threaded driver
(``rows.backward_ranges``) serves the GRU's backward too, so that one waits for the helper as well. Nothing
depends on the helper: if it cannot start, fails or takes longer than WAIT_SECONDS, this process compiles the
backward itself. It is skipped on one core, when the cache is warm, and when ``MINILSTM_COMPILE_AHEAD=0``.

    python -m minilstm.kernels.compile_ahead minilstm.kernels.numba_cpu:compile_backward float32 B D H
"""
import os
import subprocess
import sys
import threading

WAIT_SECONDS = 300
_HELPER = {"proc": None, "tried": False}
_MEANWHILE = []                                               # compilation this process does while it waits
_LOCK = threading.Lock()


def _forget():
    """In a forked child: the parent's helper is not this process's to wait for, and the parent decided."""
    _HELPER.update(proc=None, tried=True)
    _MEANWHILE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def _cold(dispatcher):
    """True when ``dispatcher`` has nothing compiled in this process and no index in its on-disk cache."""
    try:
        if dispatcher.overloads:
            return False
        cache_file = dispatcher._cache._cache_file            # Numba's cache; absent when caching is off
        return not os.path.exists(cache_file._index_path)
    except AttributeError:
        return False


def start(dispatchers, target, *args):
    """Start the helper, once per process, if every one of ``dispatchers`` (the compiled functions it will build)
    is cold and a second core is free: it runs ``target`` ('module:function') with ``args`` (strings). Returns
    True when a helper was started."""
    if _HELPER["tried"]:                                      # every training forward after the first: no lock
        return False
    with _LOCK:
        if _HELPER["tried"]:
            return False
        _HELPER["tried"] = True
    from . import threads
    if os.environ.get("MINILSTM_COMPILE_AHEAD", "1") == "0" or threads.cores() < 2 or \
            not all(_cold(d) for d in dispatchers):
        _MEANWHILE.clear()
        return False
    command = [sys.executable, "-m", "minilstm.kernels.compile_ahead", target, *(str(a) for a in args)]
    try:
        _HELPER["proc"] = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
    except OSError:
        _MEANWHILE.clear()
        return False
    return True


def meanwhile(task):
    """Queue ``task`` (a function of no arguments that compiles what the first training step needs after its
    backward: the optimizer's passes) to run in this process while the helper compiles, at the first ``wait``:
    this process would otherwise sit idle there. Dropped when no helper starts (the work then happens at its
    first real call, as it would without a helper); a task that fails is dropped too (the real call reports). One
    task is kept, the latest (a model whose forward never reaches the compiled kernels holds no others' arrays)."""
    if not _HELPER["tried"] or _HELPER["proc"] is not None:
        _MEANWHILE[:] = [task]


def wait():
    """Wait for a running helper (at most WAIT_SECONDS; then it is stopped and this process compiles)."""
    if _HELPER["proc"] is None:                               # every backward but a cold first one: no lock
        return
    with _LOCK:
        proc, _HELPER["proc"] = _HELPER["proc"], None
        tasks = list(_MEANWHILE)
        _MEANWHILE.clear()
    if proc is None:
        return
    for task in tasks:
        try:
            task()
        except Exception:                                     # a head start only: the real call reports
            pass
    try:
        proc.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":                                   # the helper: target args...
    import importlib
    module, function = sys.argv[1].split(":")
    getattr(importlib.import_module(module), function)(*sys.argv[2:])
