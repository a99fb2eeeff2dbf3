"""NumPy's own BLAS, callable from compiled code, and the threads the time loop runs on.

Why. A time step is one small matrix product (h_{t-1} @ W_h, or da_t @ W_h^T) and one
pass over the gates. Issued from Python, every step pays a NumPy call and a Numba
dispatch (together about as long as the product itself at 32 x 64 by 64 x 256), and
a two-thread BLAS wakes and synchronises its threads for each small product. Here
the whole time loop is one compiled call that calls the same ``cblas_?gemm`` NumPy
calls (found through threadpoolctl, so the results are NumPy's to the bit), and the
batch rows, which are independent through time, are split over the cores: each
thread runs its rows' whole time loop with a one-thread BLAS.

``_gemm(dtype)`` is the ctypes function for float32/float64, or None when NumPy's BLAS
does not export a CBLAS gemm that can be found (the kernels then loop in Python); private,
since the function it hands out takes raw addresses;
``loop_threads(B)`` is how many threads a layer's forward or backward over B rows may
use; ``one_thread_blas()`` holds NumPy's BLAS at one thread while they run.

The threads are Numba's (``prange``, the OpenMP or TBB layer; launching costs about 2 us).
Fork: GNU OpenMP's thread pool does not survive ``fork`` (Numba terminates a child that starts a
threaded region its parent had used), so a process forked after its parent ran one (a fork-started
``multiprocessing`` pool, the default on Linux) runs every layer on one thread (``forked_serial``):
the same results as a one-thread run, and the parent keeps its threads. Spawn, forkserver, TBB and
workqueue need nothing (a user's ``NUMBA_THREADING_LAYER`` is honoured as it is).
Every product inside a threaded section runs on its caller's thread: an OpenBLAS pool
woken for one big product spins on the cores for a while afterwards and would steal
the second core from the time loop (measured: 64,50,10,128,2 from 29 ms to 50 ms).
"""
import ctypes
import functools
import importlib
import os
import sys
import threading

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

# A chunk of the batch must be worth a thread: at fewer rows, a one-thread product per step is
# short enough that the hand-off costs more than it saves (measured on 2 cores, see numba_cpu).
MIN_ROWS_PER_THREAD = int(os.environ.get("MINILSTM_MIN_ROWS_PER_THREAD", 8))

_STATE = {}
_LOCK = threading.Lock()


def _blas_info():
    """threadpoolctl's record of the BLAS NumPy links (filepath, internal_api, ...); None when there is none.

    Other libraries may have loaded BLAS libraries of their own (SciPy's OpenBLAS, PyTorch's MKL): the one
    shipped inside NumPy's folder is NumPy's; else, the only one loaded; else the first."""
    try:
        from threadpoolctl import threadpool_info
        import numpy.linalg  # noqa: F401  (loads the BLAS)
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:
        return None
    if not infos:
        return None
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    mine = [i for i in infos if os.path.abspath(i.get("filepath", "")).startswith(
        (os.path.join(site, "numpy.libs") + os.sep, os.path.dirname(os.path.abspath(np.__file__)) + os.sep))]
    return (mine or infos)[0]


def _load():
    """Find cblas_sgemm/dgemm and the thread-count functions in NumPy's BLAS (once per process)."""
    with _LOCK:
        if _STATE:
            return _STATE
        _STATE.update(gemm={}, get_threads=None, set_threads=None)
        info = _blas_info()
        if info is None or os.environ.get("MINILSTM_NO_BLAS_LOOP"):
            return _STATE
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            return _STATE
        for prefix in ("scipy_", ""):                    # NumPy's wheels prefix OpenBLAS's symbols with scipy_
            for suffix, itype in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
                for ch, ftype, dt in (("s", ctypes.c_float, np.float32), ("d", ctypes.c_double, np.float64)):
                    fn = getattr(lib, f"{prefix}cblas_{ch}gemm{suffix}", None)
                    if fn is not None and np.dtype(dt) not in _STATE["gemm"]:
                        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, itype, itype, itype, ftype,
                                       ctypes.c_void_p, itype, ctypes.c_void_p, itype, ftype, ctypes.c_void_p, itype]
                        fn.restype = None
                        _STATE["gemm"][np.dtype(dt)] = fn
                if _STATE["gemm"] and _STATE["get_threads"] is None and info.get("internal_api") == "openblas":
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                        _STATE["get_threads"], _STATE["set_threads"] = get, put
            if _STATE["gemm"]:
                break
        return _STATE


def _gemm(dtype):
    """The CBLAS gemm (ctypes function) of NumPy's BLAS for ``dtype``, or None."""
    return _load()["gemm"].get(np.dtype(dtype))


def blas_threads():
    """How many threads NumPy's BLAS may use now (a threadpoolctl limit, e.g. in parallel fits, lowers it)."""
    get = _load()["get_threads"]
    return max(1, int(get())) if get is not None else 1


def cores():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                               # not Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=None)
def threaded_layer():
    """True when Numba can run ``prange`` on a thread-safe layer (OpenMP or TBB), so a threaded kernel may be
    called from several Python threads at once; Numba's fallback layer (workqueue) is not, and is not used."""
    if os.environ.get("NUMBA_THREADING_LAYER", "default") == "workqueue":
        return False
    for mod in ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool"):
        try:
            importlib.import_module(mod)
            return True
        except Exception:
            pass
    return False


_FORK = {"serial": False}


def _after_fork_in_child():
    """In a forked child: if the parent had started Numba's threads on GNU OpenMP, the child must not."""
    numba = sys.modules.get("numba")
    if numba is None or not hasattr(numba, "threading_layer"):
        return
    try:
        layer = numba.threading_layer()
    except ValueError:                                   # the parent never ran a threaded region
        return
    if layer == "omp":
        omppool = sys.modules.get("numba.np.ufunc.omppool")
        _FORK["serial"] = getattr(omppool, "openmp_vendor", "GNU") == "GNU"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_serial():
    """True in a process forked from one that had used GNU OpenMP's threads: its layers run on one thread."""
    return _FORK["serial"]


def loop_threads(B):
    """Threads for a layer's forward or backward over B rows: as many as the BLAS and Numba may use
    (threadpoolctl and ``numba.set_num_threads`` lower them), the cores allow and the rows fill (at least
    MIN_ROWS_PER_THREAD each); one without NumPy's gemm, OpenBLAS's thread control or a thread-safe layer, and
    in a child forked after its parent used GNU OpenMP's threads (``forked_serial``)."""
    if B < 2 * MIN_ROWS_PER_THREAD or _FORK["serial"]:   # too few rows for two threads, or GNU OpenMP after fork
        return 1
    st = _load()
    if st["set_threads"] is None or not st["gemm"] or not threaded_layer():
        return 1
    import numba
    return max(1, min(blas_threads(), numba.get_num_threads(), cores(), B // MIN_ROWS_PER_THREAD))


def row_bounds(B, n):
    """(n + 1,) int64 edges of n contiguous row ranges covering 0..B as evenly as possible."""
    return np.array([B * k // n for k in range(n + 1)], dtype=np.int64)


def can_set_threads():
    """True when this module can read and set NumPy's BLAS thread count (OpenBLAS)."""
    return _load()["set_threads"] is not None


_HOLD = {"depth": 0, "saved": None}
_HOLD_LOCK = threading.Lock()


class one_thread_blas:
    """Inside the block NumPy's BLAS runs on the calling thread only (each loop thread does its own rows).

    Counted: with several Python threads inside such blocks at once, the first one in saves the count and
    the last one out restores it (a save/restore per block would leave one thread behind when they overlap)."""

    def __enter__(self):
        st = _load()
        if st["set_threads"] is None:
            return self
        with _HOLD_LOCK:
            if _HOLD["depth"] == 0:
                _HOLD["saved"] = st["get_threads"]()
                if _HOLD["saved"] != 1:
                    st["set_threads"](1)
            _HOLD["depth"] += 1
        return self

    def __exit__(self, *exc):
        st = _load()
        if st["set_threads"] is None:
            return
        with _HOLD_LOCK:
            _HOLD["depth"] -= 1
            if _HOLD["depth"] == 0 and _HOLD["saved"] not in (None, 1):
                st["set_threads"](_HOLD["saved"])
