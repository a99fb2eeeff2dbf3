"""Many fits at once: the one place minilstm uses joblib (backtests, ensembles and sweeps all call ``run_parallel``).

A task is ``(function, args, kwargs)``, what ``joblib.delayed(function)(*args, **kwargs)`` builds
(``task`` below is the same thing). ``run_parallel(tasks, n_jobs, backend)`` returns the results in
the order of the tasks, whatever the backend, so the same seeds give the same numbers with
``n_jobs=1``, ``n_jobs=2`` or a cluster.

Backends (joblib's names):

- ``n_jobs=1`` (default): a plain loop in this process.
- ``n_jobs=k`` or ``-1`` (all cores): joblib's default ``'loky'`` process pool on this machine.
  ``backend='threading'`` and ``'multiprocessing'`` work too.
- ``backend='dask'``: the tasks go to the workers of a running ``dask.distributed.Client``
  (``pip install 'minilstm[distributed]'``, then ``client = Client()`` for a local cluster or
  ``Client('tcp://scheduler:8786')`` for a real one). ``n_jobs`` is then ignored: the
  cluster's workers decide. ``with joblib.parallel_config(backend='dask'):`` around a call with
  ``n_jobs=-1`` does the same.
- Ray plugs in the same way: ``from ray.util.joblib import register_ray; register_ray();
  ray.init(...)``, then ``backend='ray'`` (or ``joblib.parallel_config(backend='ray')``).
  Any backend registered with ``joblib.register_parallel_backend`` is accepted by name.

Threads: every task runs inside ``minilstm.kernels.threads.single_threaded`` (the one thread policy):
NumPy's BLAS, OpenMP and Numba limited to one thread, so n fits on n cores do not fight over them.
With ``n_jobs=1`` too: a matrix product split over 2 threads rounds differently from one on 1 thread (float32 results
differ in the last digits), so this is what makes the numbers the same for every ``n_jobs``
and backend. (A single ``LSTMModel.fit`` outside ``run_parallel`` uses the machine's threads.)
"""
import contextlib

from ..errors import ConfigError, DeviceError
from ..kernels.threads import single_threaded
from .progress import progress_bar

INSTALL_HINT = "pip install 'minilstm[distributed]'"
MAX_JOBS = 10_000         # n_jobs beyond this is a typo; the workers started are also capped at the number of tasks


def task(fn, *args, **kwargs):
    """One unit of work for ``run_parallel``: ``(fn, args, kwargs)`` (the same as ``joblib.delayed(fn)(...)``)."""
    return fn, args, kwargs


def _run_single_threaded(fn, args, kwargs):
    """What every task runs in (module level, so every backend can ship it to its workers)."""
    with single_threaded():
        return fn(*args, **kwargs)


def check_dask():
    """Raise ``DeviceError`` (with the fix) unless dask.distributed is installed and a Client is running."""
    try:
        import distributed
    except ImportError:
        raise DeviceError(f"backend='dask' needs dask.distributed, which is not installed: {INSTALL_HINT}. "
                          "Or use backend=None (joblib's local processes) with n_jobs.") from None
    try:
        distributed.get_client()
    except ValueError:
        raise DeviceError("backend='dask' sends the fits to a running dask.distributed Client, and none was found. "
                          "Start one first: `from dask.distributed import Client; client = Client()` (a local "
                          "cluster) or `Client('tcp://scheduler-address:8786')`. (Installed with "
                          f"{INSTALL_HINT}.)") from None


def check_n_jobs(n_jobs):
    import numbers
    if n_jobs is None:
        return
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ConfigError(f"n_jobs must be a nonzero integer (1: one fit at a time; k: k processes; -1: all cores) "
                          f"or None, got {n_jobs!r}.")
    if abs(n_jobs) > MAX_JOBS:
        raise ConfigError(f"n_jobs must be between -{MAX_JOBS:,} and {MAX_JOBS:,} (-1: all cores), got {n_jobs!r}; "
                          "no run needs more workers than that (and never more than it has tasks).")


def _check_backend(backend):
    if backend is None:
        return
    from joblib.parallel import BACKENDS, ParallelBackendBase
    if not isinstance(backend, str):
        if isinstance(backend, ParallelBackendBase):
            return  # a joblib backend instance: joblib checks it
        raise ConfigError(f"backend must be None, a joblib backend name ('loky', 'threading', 'multiprocessing', "
                          f"'dask', ...) or a joblib ParallelBackendBase instance, got {backend!r}.")
    if backend == "dask":
        check_dask()
        return
    if backend not in BACKENDS:
        hint = (" Ray registers 'ray' with `from ray.util.joblib import register_ray; register_ray()`."
                if backend == "ray" else "")
        raise ConfigError(f"unknown parallel backend {backend!r}; joblib knows {sorted(BACKENDS) + ['dask']}.{hint}")


def effective_n_jobs(n_jobs=1, backend=None):
    """How many tasks may run at once (-1: as many as the backend has); 1 means a plain loop here.

    n_jobs=None follows joblib's active ``parallel_config``: its n_jobs if it set one, all workers
    for a non-default backend (dask, ray...), else 1.
    """
    if backend == "dask":
        return -1
    if n_jobs is not None:
        return int(n_jobs)
    import joblib
    active, active_n = joblib.parallel.get_active_backend()
    if active_n is not None:
        return int(active_n)
    return 1 if type(active).__name__ in ("LokyBackend", "SequentialBackend") else -1


def run_parallel(tasks, n_jobs=1, backend=None, progress=False):
    """Run ``tasks`` (a list of ``(fn, args, kwargs)``) and return their results in task order.

    n_jobs: 1 (a loop here), k > 1 or -1 (all cores), or None (1 unless a ``joblib.parallel_config``
    says otherwise). backend: None (joblib's active backend, 'loky' by default), 'loky', 'threading',
    'multiprocessing', 'dask' (a running ``dask.distributed.Client``), or any name registered with
    joblib (e.g. 'ray'). progress: False, True, or a description string: one tqdm bar over the tasks.
    A task that raises stops the run and its error is raised here (callers that want to go on
    catch inside the task, as ``sweep`` does).
    """
    tasks = list(tasks)
    check_n_jobs(n_jobs)
    _check_backend(backend)
    desc = progress if isinstance(progress, str) else None
    bar = progress_bar(total=len(tasks), desc=desc, disable=not progress or not tasks, leave=True, unit="fit")
    try:
        jobs = effective_n_jobs(n_jobs, backend)
        if jobs == 1 and backend in (None, "sequential"):
            results = []
            for fn, args, kwargs in tasks:
                results.append(_run_single_threaded(fn, args, kwargs))
                bar.update()
            return results
        import joblib
        if jobs < 0 and backend != "dask":
            jobs = joblib.effective_n_jobs(jobs)        # -1: all cores, -2: all but one... (joblib's meaning)
        if jobs > 0:
            jobs = min(jobs, max(len(tasks), 1))        # never more workers than tasks
        limited = [(_run_single_threaded, (fn, args, kwargs), {}) for fn, args, kwargs in tasks]
        config = joblib.parallel_config(backend=backend) if backend is not None else contextlib.nullcontext()
        results = []
        with config:                       # parallel_config registers 'dask' (and other external backends)
            parallel = joblib.Parallel(n_jobs=jobs)
            if not getattr(parallel._backend, "supports_return_generator", True):
                results = parallel(limited)               # 'multiprocessing': results all at once at the end
                bar.update(len(results))
                return results
            for r in joblib.Parallel(n_jobs=jobs, return_as="generator")(limited):
                results.append(r)
                bar.update()
        return results
    finally:
        bar.close()
