"""The one thread policy: how many threads a layer's time loop runs on, when NumPy's BLAS is held at one
thread, and what a task of a multi-fit run is limited to. The kernels and ``minilstm.forecast.parallel``
both use it; nothing else sets thread counts.

Who owns the cores. With NumPy's gemm reachable (``blas._gemm``) and more than one thread allowed
(``loop_threads``), a layer's forward and backward split the batch rows over Numba's threads, each running
its rows' whole time loop with a one-thread BLAS, and the big products (input projection, weight gradients,
dx) are split the same way; NumPy's BLAS is held at one thread meanwhile (``one_thread_blas``). Otherwise
the loop runs on the calling thread, with one BLAS thread up to STEP_SERIAL_MAX_FLOPS per step
(``step_blas_threads``). Every product inside a threaded section runs on its caller's thread: an OpenBLAS
pool woken for one big product spins on the cores for a while afterwards and would steal the second core
from the time loop (measured: 64,50,10,128,2 from 29 ms to 50 ms).

The threads are Numba's (``prange``, the OpenMP or TBB layer; launching costs about 2 us).
Fork: GNU OpenMP's thread pool does not survive ``fork`` (Numba terminates a child that starts a
threaded region its parent had used), so a process forked after its parent ran one (a fork-started
``multiprocessing`` pool, the default on Linux) runs every layer on one thread (``forked_serial``):
the same results as a one-thread run, and the parent keeps its threads. Spawn, forkserver, TBB and
workqueue need nothing (a user's ``NUMBA_THREADING_LAYER`` is honoured as it is).

One hold. ``one_thread_blas`` is the only place NumPy's BLAS thread count is lowered: a layer's threaded
region, a small step's loop (``step_blas_threads``) and a multi-fit task (``single_threaded``) all enter
it, and it is counted, so overlapping holds from several Python threads restore the count once, when the
last one leaves; the thread that sets or restores it gives threadpoolctl's control back (``_release_control``).
"""
import contextlib
import functools
import importlib
import os
import sys
import threading

import numpy as np

from . import blas

# A chunk of the batch must be worth a thread: at fewer rows, a one-thread product per step is
# short enough that the hand-off costs more than it saves (measured on 2 cores).
MIN_ROWS_PER_THREAD = int(os.environ.get("MINILSTM_MIN_ROWS_PER_THREAD", 8))

# A time loop on the calling thread (compiled when gemm is reachable, else in Python: per step NumPy's
# matmul and one compiled gate pass) runs with one BLAS thread up to STEP_SERIAL_MAX_FLOPS per step: splitting
# a small product over BLAS threads costs more in waking and synchronising them than it
# saves (2 cores, 32,20,10,64,2: 3.2 -> 3.0 ms; a demo epoch beside a busy process: 20.4 s -> 4.4 s).
# MINILSTM_STEP_SERIAL_MAX_FLOPS overrides it (0: never one thread).
STEP_SERIAL_MAX_FLOPS = int(os.environ.get("MINILSTM_STEP_SERIAL_MAX_FLOPS", 2 ** 21))


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
    if not blas.can_set_threads() or not blas._load()["gemm"] or not threaded_layer():
        return 1
    import numba
    return max(1, min(blas.blas_threads(), numba.get_num_threads(), cores(), B // MIN_ROWS_PER_THREAD))


def row_bounds(B, n):
    """(n + 1,) int64 edges of n contiguous row ranges covering 0..B as evenly as possible."""
    return np.array([B * k // n for k in range(n + 1)], dtype=np.int64)


# ---- the hold on BLAS -------------------------------------------------------------------------------------
_HOLD = {"depth": 0, "every": False, "restore": []}
_HOLD_LOCK = threading.Lock()
_CONTROLLER = []


def _blas_controller(fresh):
    """threadpoolctl's controller of every BLAS library loaded (NumPy's, and SciPy's or others), or None.
    fresh: built now, so it sees libraries loaded since (a task's hold); else kept from the first call."""
    if fresh or not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
            ctl = ThreadpoolController().select(user_api="blas")
        except Exception:                 # threadpoolctl missing or unable to read this BLAS: leave it alone
            ctl = None
        if fresh:
            return ctl if ctl is not None and ctl.lib_controllers else None
        _CONTROLLER.append(ctl)
    return _CONTROLLER[0] if _CONTROLLER[0] is not None and _CONTROLLER[0].lib_controllers else None


def _limit_blas_to_one(every_library):
    """Set NumPy's BLAS (with ``every_library``, every BLAS library loaded) to one thread; returns the function
    that restores it, or None. NumPy's alone goes through OpenBLAS's own functions when ``blas`` found them
    (cheap, for every layer call); otherwise, and for every library, through threadpoolctl."""
    saved = None if every_library else blas.get_threads()
    if saved is not None:
        if saved == 1:
            return None
        blas.set_threads(1)
        return lambda: blas.set_threads(saved)
    ctl = _blas_controller(fresh=every_library)
    if ctl is None:
        return None
    limiter = ctl.limit(limits=1)
    _release_control(ctl)

    def restore():
        limiter.restore_original_limits()
        _release_control(ctl)
    return restore


def _release_control(ctl):
    """Give up the calling thread's control of ``ctl``'s libraries' limits, if it has it. threadpoolctl 3.8 lets only
    one Python thread set a process-wide (pthreads) OpenBLAS pool's size, the first to set it, until it gives the
    control up, and silently ignores the others; ``limit()`` called as a function (the hold is entered and left in
    different calls) never gives it up, so a main thread that had run one fit kept it and a multi-fit task on a
    worker thread (joblib's 'threading', Dask's threads) ran with every BLAS thread, and other numbers than
    n_jobs=1. A user's own ``threadpool_limits`` block in another thread keeps its control (its limit stands)."""
    for lib in ctl.lib_controllers:
        clear = getattr(type(lib), "clear_controlling_thread", None)
        if clear is not None:
            clear()


class one_thread_blas:
    """Inside the block NumPy's BLAS runs on the calling thread only; with ``every_library=True`` every BLAS
    library loaded does (what a multi-fit task asks for).

    Counted: with several Python threads inside such blocks at once, the first one in saves the count and
    the last one out restores it (a save/restore per block would leave one thread behind when they overlap);
    a block asking for every library inside one that held NumPy's only extends the hold."""

    def __init__(self, every_library=False):
        self.every_library = every_library

    def __enter__(self):
        with _HOLD_LOCK:
            if _HOLD["depth"] == 0 or (self.every_library and not _HOLD["every"]):
                _HOLD["restore"].append(_limit_blas_to_one(self.every_library))
                _HOLD["every"] = _HOLD["every"] or self.every_library
            _HOLD["depth"] += 1
        return self

    def __exit__(self, *exc):
        with _HOLD_LOCK:
            _HOLD["depth"] -= 1
            if _HOLD["depth"] == 0:
                restore, _HOLD["restore"], _HOLD["every"] = _HOLD["restore"], [], False
                for undo in reversed(restore):
                    if undo is not None:
                        undo()


def step_blas_threads(B, H, gates=4):
    """A context in which a time loop on the calling thread runs: one BLAS thread for small steps (a step's
    product is (B, H) x (H, gates * H))."""
    if 2 * B * H * gates * H > STEP_SERIAL_MAX_FLOPS:
        return contextlib.nullcontext()
    return one_thread_blas()


# ---- a task of a multi-fit run (``minilstm.forecast.parallel``) -------------------------------------------
@contextlib.contextmanager
def single_threaded():
    """Every BLAS library (``one_thread_blas``), OpenMP (threadpoolctl) and Numba limited to one thread inside
    the block, restored after.

    n fits on n cores then do not fight over them, and a product is never split over threads, so every
    n_jobs and backend gives the same numbers. The BLAS hold is process-wide and counted (tasks running side
    by side in threads of one process share it); OpenMP's and Numba's thread counts are per thread: each
    task sets and restores its own.
    """
    from threadpoolctl import ThreadpoolController
    numba = sys.modules.get("numba")
    numba = numba if numba is not None and hasattr(numba, "set_num_threads") else None
    with one_thread_blas(every_library=True):
        before = numba.get_num_threads() if numba is not None else None
        openmp = ThreadpoolController().select(user_api="openmp").limit(limits=1)
        try:
            if numba is not None:
                numba.set_num_threads(1)
            yield
        finally:
            if numba is not None:
                numba.set_num_threads(before)
            openmp.restore_original_limits()
