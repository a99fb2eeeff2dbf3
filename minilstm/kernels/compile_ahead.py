"""The first run's compilation on two cores: the LSTM's backward compiles in a helper process.

On a fresh install every compiled kernel is built at its first call and kept in Numba's on-disk cache
(next to the package, or the user's cache folder). A first training step needs the forward pass (about
half of that work) and then the backward pass (the other half), one after the other, on one core. So the
first training forward of a process whose cache holds no LSTM backward yet (``start``) starts a helper
process that compiles the backward for the same types, on the second core, while this process compiles
the forward; the first backward (``wait``) waits for it and then loads the backward from the cache.
Measured on 2 cores (``benchmarks/bench_cold_start.py``): see ``benchmarks/README.md``.

The helper compiles only functions the forward does not, or the same ones with the same types, so the two
processes never write different entries of one function's cache index at once (Numba's index update is a
read-modify-write; ``tests/test_kernel_cache.py`` checks the two sets). Nothing depends on the helper: if
it cannot start, fails or takes longer than WAIT_SECONDS, this process compiles the backward itself. It is
skipped on one core, when the cache is warm, and when ``MINILSTM_COMPILE_AHEAD=0``.

    python -m minilstm.kernels.compile_ahead minilstm.kernels.numba_cpu:compile_backward float32 B D H
"""
import os
import subprocess
import sys
import threading

WAIT_SECONDS = 300
_HELPER = {"proc": None, "tried": False}
_LOCK = threading.Lock()


def _forget():
    """In a forked child: the parent's helper is not this process's to wait for, and the parent decided."""
    _HELPER.update(proc=None, tried=True)


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
    if os.environ.get("MINILSTM_COMPILE_AHEAD", "1") == "0" or threads.cores() < 2:
        return False
    if not all(_cold(d) for d in dispatchers):
        return False
    command = [sys.executable, "-m", "minilstm.kernels.compile_ahead", target, *(str(a) for a in args)]
    try:
        _HELPER["proc"] = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
    except OSError:
        return False
    return True


def wait():
    """Wait for a running helper (at most WAIT_SECONDS; then it is stopped and this process compiles)."""
    if _HELPER["proc"] is None:                               # every backward but a cold first one: no lock
        return
    with _LOCK:
        proc, _HELPER["proc"] = _HELPER["proc"], None
    if proc is None:
        return
    try:
        proc.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":                                   # the helper: target args...
    import importlib
    module, function = sys.argv[1].split(":")
    getattr(importlib.import_module(module), function)(*sys.argv[2:])
