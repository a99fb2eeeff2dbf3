"""run_parallel: task order, one thread per task, clear errors; loky and Dask give the numbers of n_jobs=1."""
import sys

import numpy as np
import pytest

from minilstm.errors import ConfigError, DeviceError
from minilstm.forecast import backtest, sweep
from minilstm.forecast.ensemble import LSTMEnsemble
from minilstm.forecast.parallel import run_parallel, task

CFG = {"hidden_size": 4, "num_layers": 1, "sequence_length": 8, "epochs": 2, "batch_size": 16, "seed": 2,
       "patience": None}


def series(n=120):
    rng = np.random.default_rng(0)
    t = np.arange(n)
    y = 5 + 2 * np.sin(2 * np.pi * t / 8) + 0.3 * rng.standard_normal(n)
    return np.c_[y, np.cos(2 * np.pi * t / 8)], y


def blas_threads(i):
    from threadpoolctl import threadpool_info
    return i, max([p["num_threads"] for p in threadpool_info()] or [1])


def numbers(n_jobs=1, backend=None):
    """One backtest, one ensemble and one sweep: every number they produce."""
    X, y = series()
    bt = backtest(CFG, X, y, start=60, step=20, n_jobs=n_jobs, backend=backend, verbose=False)
    ens = LSTMEnsemble(CFG, n_members=2, n_jobs=n_jobs, backend=backend).fit(X[:100], y[:100], verbose=False)
    sw = sweep({"hidden_size": [4, 5], "sequence_length": [8, 999]}, X, y, config=CFG, n_jobs=n_jobs,
               backend=backend, verbose=False)
    return {"backtest": bt.forecasts, "ar": bt.baselines["linear_ar"], "ensemble": ens.predict(X[100:]),
            "residuals": ens.residuals, "sweep": [(t["params"], t["score"], t["status"]) for t in sw.trials]}


@pytest.fixture(scope="module")
def serial():
    return numbers()


def same(a, b):
    for k in a:
        if k == "sweep":
            assert [t[0] for t in a[k]] == [t[0] for t in b[k]] and [t[2] for t in a[k]] == [t[2] for t in b[k]]
            np.testing.assert_array_equal([t[1] for t in a[k]], [t[1] for t in b[k]])
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_loky_two_processes_give_the_same_numbers(serial):
    same(serial, numbers(n_jobs=2))


def test_a_local_dask_cluster_gives_the_same_numbers(serial):
    distributed = pytest.importorskip("distributed")
    before = blas_threads(0)[1]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
            distributed.Client(c):
        same(serial, numbers(backend="dask"))
    assert blas_threads(0)[1] == before        # workers are threads of this process: the limit is given back


def test_results_keep_task_order_and_every_task_uses_one_thread():
    out = run_parallel([task(blas_threads, i) for i in range(4)], n_jobs=2)
    assert [i for i, _ in out] == [0, 1, 2, 3] and all(n == 1 for _, n in out)
    before = blas_threads(0)[1]
    assert run_parallel([task(blas_threads, i) for i in range(2)]) == [(0, 1), (1, 1)]   # n_jobs=1 as well
    assert blas_threads(0)[1] == before                                                   # and restored after
    assert run_parallel([task(pow, 2, i) for i in range(5)]) == [1, 2, 4, 8, 16]


def test_progress_bar_only_when_asked(capsys):
    run_parallel([task(abs, -1)] * 3, progress="fits")
    assert "fits" in capsys.readouterr().err
    run_parallel([task(abs, -1)] * 3, progress=False)
    assert capsys.readouterr().err == ""


def test_dask_without_a_client_or_without_dask_says_how(monkeypatch):
    pytest.importorskip("distributed")
    with pytest.raises(DeviceError, match="Client"):
        run_parallel([task(abs, 1)], backend="dask")
    monkeypatch.setitem(sys.modules, "distributed", None)          # as if not installed
    with pytest.raises(DeviceError, match=r"pip install 'minilstm\[distributed\]'"):
        run_parallel([task(abs, 1)], backend="dask")


@pytest.mark.parametrize("kwargs, words", [({"backend": "spark"}, "unknown parallel backend"),
                                           ({"backend": "ray"}, "register_ray"), ({"n_jobs": 0}, "n_jobs")])
def test_bad_parallel_settings(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        run_parallel([task(abs, 1)], **kwargs)


def test_fit_progress_bar_lines_or_nothing(capsys):
    from minilstm import LSTMModel
    X, y = series(60)
    LSTMModel(CFG).fit(X, y, verbose="bar")
    bar = capsys.readouterr().out
    assert "2/2 epochs" in bar and "train " in bar and "left" in bar
    LSTMModel(CFG).fit(X, y, verbose="lines")
    assert "epoch   2/2" in capsys.readouterr().out
    LSTMModel(CFG).fit(X, y, verbose=False)
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ConfigError, match="verbose"):
        LSTMModel(CFG).fit(X, y, verbose="loud")


@pytest.fixture
def two_blas_threads():
    """NumPy's BLAS at two threads for the test (so that a product big enough is split), restored after."""
    from minilstm.kernels import blas
    if not blas.can_set_threads():
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module can drive")
    before = blas.get_threads()
    blas.set_threads(2)
    yield
    blas.set_threads(before)


def test_a_task_on_a_worker_thread_holds_blas_at_one_thread_too(two_blas_threads):
    """threadpoolctl >= 3.8 lets only the first Python thread that set an OpenBLAS limit set it again: a task on a
    worker thread must still get one BLAS thread, and give the count back."""
    import threading

    from minilstm.kernels import blas
    from minilstm.kernels.threads import single_threaded
    seen = {}

    def inside(key):
        with single_threaded():
            seen[key] = blas.get_threads()
        seen[key + " after"] = blas.get_threads()

    inside("main")                                        # the main thread sets a limit first
    worker = threading.Thread(target=inside, args=("worker",))
    worker.start()
    worker.join()
    inside("main again")
    assert seen == {"main": 1, "main after": 2, "worker": 1, "worker after": 2, "main again": 1,
                    "main again after": 2}


def test_the_threading_backend_gives_the_numbers_of_n_jobs_1(two_blas_threads):
    """Products big enough for OpenBLAS to split over its threads (hidden 48, batch 32): the threading backend's
    tasks must run them on one thread, as n_jobs=1 does."""
    rng = np.random.default_rng(0)
    t = np.arange(260)
    y = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, len(t))
    cfg = dict(hidden_size=48, num_layers=1, sequence_length=12, output_steps=6, epochs=2, batch_size=32,
               baseline=None, seed=1)
    serial_run = backtest(cfg, y, start=200, step=20, steps=6, refit=2, verbose=False).forecasts
    threaded = backtest(cfg, y, start=200, step=20, steps=6, refit=2, n_jobs=2, backend="threading",
                        verbose=False).forecasts
    np.testing.assert_array_equal(serial_run, threaded)


def test_a_users_own_blas_limit_stands_beside_the_tasks_holds(two_blas_threads):
    """The hold gives threadpoolctl's control back after each use: a user's threadpool_limits block around tasks on
    a long-lived worker thread is restored when it ends, and a limit the user sets later on the main thread holds."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from minilstm.kernels import blas
    from minilstm.kernels.threads import single_threaded

    def task():
        with single_threaded():
            return blas.get_threads()

    with ThreadPoolExecutor(1) as pool:                   # a worker that outlives its tasks, as Dask's do
        with threadpool_limits(limits=1, user_api="blas"):
            assert pool.submit(task).result() == 1
        assert blas.get_threads() == 2                    # the user's block restored its count
        with single_threaded():                           # the main thread holds first (an n_jobs=1 run)
            pass
        assert pool.submit(task).result() == 1 and blas.get_threads() == 2
        with threadpool_limits(limits=1, user_api="blas"):
            assert blas.get_threads() == 1                # the user's own limit is not ignored
        assert blas.get_threads() == 2
