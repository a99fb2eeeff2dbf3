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

    python -m minilstm.kernels.compile_ahead float32 B D H     # the helper: one backward at these sizes
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


def start(B, D, H, dtype):
    """Start the helper for a layer of B rows, D inputs and H units in ``dtype``, once per process, if the
    backward is cold and a second core is free. Returns True when a helper was started."""
    from . import numba_cpu, threads
    with _LOCK:
        if _HELPER["tried"]:
            return False
        _HELPER["tried"] = True
    if os.environ.get("MINILSTM_COMPILE_AHEAD", "1") == "0" or threads.cores() < 2:
        return False
    if not (_cold(numba_cpu._backward_rows_par) and _cold(numba_cpu._backward_rows)):
        return False
    args = [sys.executable, "-m", "minilstm.kernels.compile_ahead", str(dtype), str(B), str(D), str(H)]
    try:
        _HELPER["proc"] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
    except OSError:
        return False
    return True


def wait():
    """Wait for a running helper (at most WAIT_SECONDS; then it is stopped and this process compiles)."""
    with _LOCK:
        proc, _HELPER["proc"] = _HELPER["proc"], None
    if proc is None:
        return
    try:
        proc.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def compile_backward(dtype, B, D, H):
    """The helper's work: one backward through ``numba_cpu.lstm_backward`` on zeros of the given sizes (two
    steps), which compiles and caches what the first real backward at those sizes will call."""
    import numpy as np

    from . import numba_cpu
    T = 2
    z = lambda *shape: np.zeros(shape, dtype)                 # noqa: E731
    cache = {"x_tm": z(T, B, D), "hs": z(T + 1, B, H), "cs": z(T + 1, B, H), "gates": z(T, B, 4 * H),
             "tanh_c": z(T, B, H), "params": {"W_x": z(D, 4 * H), "W_h": z(H, 4 * H), "b": z(4 * H)}}
    numba_cpu.lstm_backward(z(B, T, H), z(B, H), z(B, H), cache)


if __name__ == "__main__":
    compile_backward(sys.argv[1], *(int(v) for v in sys.argv[2:5]))
