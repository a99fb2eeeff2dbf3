"""The Numba kernels' three ways through a layer, each held to the NumPy reference:

* threaded: batch rows split over Numba threads, each running its rows' whole time loop with NumPy's
  gemm called from compiled code (``threads.loop_threads(B) > 1``);
* compiled on the calling thread (one thread allowed, or too few rows);
* the Python time loop (NumPy's gemm not reachable from compiled code).

The split is forced here, so the threaded path is exercised on any machine (also one core)."""
import numpy as np
import pytest
from conftest import random_params, rel_norm

from minilstm import core
from minilstm.backend import numba_available

pytestmark = pytest.mark.skipif(not numba_available, reason="Numba is not installed")


def _paths(monkeypatch, path, threads=2):
    from minilstm.kernels import blas
    from minilstm.kernels import threads as policy
    if path == "threaded":
        if blas._gemm(np.float64) is None:
            pytest.skip("NumPy's gemm is not reachable from compiled code here")
        monkeypatch.setattr(policy, "loop_threads", lambda B: min(threads, B))
    elif path == "compiled":
        monkeypatch.setattr(policy, "loop_threads", lambda B: 1)
    else:
        monkeypatch.setattr(blas, "_gemm", lambda dtype: None)
        monkeypatch.setattr(policy, "loop_threads", lambda B: 1)


def _run(dtype, B, T, D, H, with_dh_seq, seed=0):
    from minilstm.kernels import numba_cpu
    rng = np.random.default_rng(seed)
    p = random_params(rng, D, H, scale=0.4)
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    G, GhT, GcT = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    out = numba_cpu.lstm_forward(cast(x), cast(h0), cast(c0), {k: cast(v) for k, v in p.items()})
    back = numba_cpu.lstm_backward(cast(G) if with_dh_seq else None, cast(GhT), cast(GcT), out[2])
    ref = core.lstm_forward(x, h0, c0, p)
    rback = core.lstm_backward(G if with_dh_seq else None, GhT, GcT, ref[2])
    return out, back, ref, rback


@pytest.mark.parametrize("path", ["threaded", "compiled", "python"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("B,T,D,H", [(2, 5, 3, 4), (5, 7, 6, 5), (17, 4, 9, 16), (40, 3, 2, 33)])
@pytest.mark.parametrize("with_dh_seq", [True, False])
def test_every_path_equals_the_reference(monkeypatch, path, dtype, tol, B, T, D, H, with_dh_seq):
    _paths(monkeypatch, path, threads=3)              # 3 threads: uneven row ranges (B=5 -> 1, 2, 2)
    out, back, ref, rback = _run(dtype, B, T, D, H, with_dh_seq)
    assert out[0].dtype == dtype and out[0].flags.c_contiguous and back[0].flags.c_contiguous
    for a, b in ((out[0], ref[0]), (out[1][0], ref[1][0]), (out[1][1], ref[1][1])):
        assert rel_norm(a, b) < tol
    for k in ("x_tm", "hs", "cs", "gates", "tanh_c"):
        assert rel_norm(out[2][k], ref[2][k]) < tol, k
    for name, a, b in zip(("dx", "dh0", "dc0"), back[:3], rback[:3]):
        assert a.shape == b.shape and rel_norm(a, b) < tol, name
    for k in ("W_x", "W_h", "b"):
        assert back[3][k].shape == rback[3][k].shape and rel_norm(back[3][k], rback[3][k]) < tol, k


@pytest.mark.parametrize("B,T,D,H", [(24, 9, 5, 12), (32, 1, 10, 64), (50, 4, 7, 9)])
def test_threaded_forward_matches_the_single_thread_forward_and_repeats_bitwise(monkeypatch, B, T, D, H):
    """Rows are independent through time: splitting them changes the forward pass by rounding at most (each
    range's input projection is its own gemm, whose rounding OpenBLAS may vary with the row count), and the same
    split gives the same bits every time."""
    _paths(monkeypatch, "threaded", threads=2)
    threaded, again = _run(np.float32, B, T, D, H, True)[0], _run(np.float32, B, T, D, H, True)[0]
    monkeypatch.setattr(__import__("minilstm.kernels.threads", fromlist=["x"]), "loop_threads", lambda B: 1)
    single = _run(np.float32, B, T, D, H, True)[0]
    np.testing.assert_array_equal(threaded[0], again[0])
    assert rel_norm(threaded[0], single[0]) < 1e-6
    for k in ("gates", "cs", "tanh_c"):
        np.testing.assert_array_equal(threaded[2][k], again[2][k])
        assert rel_norm(threaded[2][k], single[2][k]) < 1e-6, k


def test_threaded_backward_is_bitwise_reproducible(monkeypatch):
    _paths(monkeypatch, "threaded", threads=2)
    a, b = _run(np.float32, 32, 6, 4, 16, True)[1], _run(np.float32, 32, 6, 4, 16, True)[1]
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(x, y)
    for k in a[3]:
        np.testing.assert_array_equal(a[3][k], b[3][k])


def test_a_bug_in_the_threaded_path_is_caught(monkeypatch):
    """The comparison above can fail: a row range that skips its last row leaves garbage and is caught."""
    from minilstm.kernels import threads
    _paths(monkeypatch, "threaded", threads=2)
    real = threads.row_bounds
    monkeypatch.setattr(threads, "row_bounds", lambda B, n: np.maximum(real(B, n) - 1, 0))
    out, back, ref, rback = _run(np.float64, 8, 4, 3, 5, True)
    assert rel_norm(out[0], ref[0]) > 1e-3 or rel_norm(back[3]["W_h"], rback[3]["W_h"]) > 1e-3


def test_the_threaded_driver_calls_each_row_pass_compiled_for_the_arguments_it_gets(monkeypatch):
    """The drivers call a row pass through its address (``rows._address``), one per set of argument types: a
    float32 and a float64 layer, and read-only weights (another Numba type), each get theirs and the reference's
    results; a repeated call reuses the address."""
    from minilstm.kernels import numba_cpu, rows
    _paths(monkeypatch, "threaded", threads=2)
    seen = []
    real = rows._address
    monkeypatch.setattr(rows, "_address", lambda fn, call: seen.append(real(fn, call)) or seen[-1])
    rng = np.random.default_rng(3)
    p = random_params(rng, 3, 8, scale=0.4)
    x = rng.standard_normal((20, 4, 3))
    ref = core.lstm_forward(x, None, None, p)[0]
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12), (np.float64, 1e-12)):
        out = numba_cpu.lstm_forward(x.astype(dtype), None, None, {k: v.astype(dtype) for k, v in p.items()})[0]
        assert rel_norm(out, ref) < tol
    assert len(set(seen)) == 2 and seen[1] == seen[2]          # float32, float64; the same float64 pass again
    frozen = {k: v.copy() for k, v in p.items()}
    for v in frozen.values():
        v.flags.writeable = False
    out = numba_cpu.lstm_forward(x, None, None, frozen)[0]
    assert seen[-1] not in seen[:-1]                           # read-only weights: another compiled pass
    np.testing.assert_array_equal(out, numba_cpu.lstm_forward(x, None, None, p)[0])


def test_the_address_key_tells_the_two_gemms_apart():
    """Numba's fingerprint of a ctypes function does not tell float32's gemm from float64's: the key adds its
    address, so a pass compiled for one is never called with the other."""
    import numba

    from minilstm.kernels import blas, rows
    g32, g64 = blas._gemm(np.float32), blas._gemm(np.float64)
    if g32 is None or g64 is None:
        pytest.skip("NumPy's gemm is not reachable from compiled code here")

    @numba.njit
    def probe(gemm, x):
        x[0] = 1.0
    x = np.zeros(2)
    first = rows._address(probe, (g32, x))
    assert rows._address(probe, (g64, x)) != first and rows._address(probe, (g32, x)) == first
    assert len(probe.signatures) == 2


def test_threads_respect_the_blas_limit_and_restore_it():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from minilstm.kernels import blas, threads
    if blas._gemm(np.float32) is None or blas._load()["get_threads"] is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module can drive")
    before = blas.blas_threads()
    with threads.one_thread_blas():
        assert blas.blas_threads() == 1
    assert blas.blas_threads() == before
    try:
        with threads.one_thread_blas():
            raise KeyError("boom")
    except KeyError:
        pass
    assert blas.blas_threads() == before
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert threads.loop_threads(1024) == 1                # parallel fits limit BLAS to one thread: no split
    assert threads.loop_threads(threads.MIN_ROWS_PER_THREAD - 1) == 1
    assert threads.loop_threads(1024) <= max(1, threads.cores())


def test_row_bounds_cover_the_batch():
    from minilstm.kernels import threads
    for B in (1, 2, 5, 17, 64):
        for n in range(1, min(B, 5) + 1):
            e = threads.row_bounds(B, n)
            assert e[0] == 0 and e[-1] == B and len(e) == n + 1 and np.all(np.diff(e) >= B // n)


def test_the_blas_called_is_numpys_even_when_another_is_loaded_first(monkeypatch):
    """PyTorch or SciPy may load a BLAS of their own before NumPy's: the products must go to NumPy's."""
    import os

    import threadpoolctl

    from minilstm.kernels import blas
    numpy_dir = os.path.dirname(os.path.abspath(np.__file__))
    mine = {"user_api": "blas", "internal_api": "openblas",
            "filepath": os.path.join(os.path.dirname(numpy_dir), "numpy.libs", "libscipy_openblas64_-x.so")}
    other = {"user_api": "blas", "internal_api": "mkl", "filepath": "/opt/other/lib/libmkl_rt.so"}
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [other, mine])
    assert blas._blas_info() is mine
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [other])
    assert blas._blas_info() is other                     # a distribution's NumPy linked to a system BLAS
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [])
    assert blas._blas_info() is None


@pytest.mark.parametrize("path", ["threaded", "compiled", "python"])
def test_carried_gradients_in_any_memory_order(monkeypatch, path):
    """dh_T / dc_T given Fortran-ordered or as transposed views: the compiled loop writes the carried dh row by
    row, so it must get a C-ordered copy (a Fortran one gave gradients off by 0.5)."""
    from minilstm.kernels import numba_cpu
    _paths(monkeypatch, path)
    rng = np.random.default_rng(5)
    B, T, D, H = 16, 4, 3, 6
    p = random_params(rng, D, H, scale=0.4)
    x = rng.standard_normal((B, T, D))
    ref = core.lstm_forward(x, None, None, p)
    out = numba_cpu.lstm_forward(x, None, None, p)
    for dhT, dcT in ((np.asfortranarray(rng.standard_normal((B, H))), np.asfortranarray(rng.standard_normal((B, H)))),
                     (rng.standard_normal((H, B)).T, rng.standard_normal((H, B)).T)):
        rb = core.lstm_backward(None, dhT, dcT, ref[2])
        nb = numba_cpu.lstm_backward(None, dhT, dcT, out[2])
        for a, b in zip(nb[:3], rb[:3]):
            assert rel_norm(a, b) < 1e-12
        for k in p:
            assert rel_norm(nb[3][k], rb[3][k]) < 1e-12, k


def test_layer_backward_with_fortran_ordered_final_state_gradients():
    import minilstm
    rng = np.random.default_rng(6)
    x, dh = rng.standard_normal((16, 5, 5)), np.asfortranarray(rng.standard_normal((2, 16, 8)))
    res = {}
    for k in ("numpy", "numba"):
        m = minilstm.LSTM(5, 8, num_layers=2, kernels=k, seed=1)
        out, _ = m.forward(x)
        res[k] = (m.backward(np.ones_like(out), dh_n=dh), m.grads)
    for a, b in zip(res["numba"][0], res["numpy"][0]):
        assert rel_norm(a, b) < 1e-12
    for name in res["numpy"][1]:
        assert rel_norm(res["numba"][1][name], res["numpy"][1][name]) < 1e-12, name


def test_a_cache_whose_weights_have_another_dtype_is_read_in_the_cache_dtype():
    """The reference accepts a cache whose params were cast after the forward; the compiled path reads raw
    memory, so it must cast them too (reading float32 weights as float64 ran past the buffer)."""
    from minilstm.kernels import numba_cpu
    rng = np.random.default_rng(7)
    p = random_params(rng, 300, 4, scale=0.1)
    x = rng.standard_normal((16, 3, 300))
    out = numba_cpu.lstm_forward(x, None, None, p)
    for dtype in (np.float32, np.float64):
        cache = dict(out[2], params={k: v.astype(dtype) for k, v in p.items()})
        rcache = dict(out[2], params={k: v.astype(np.float64) for k, v in cache["params"].items()})
        nb = numba_cpu.lstm_backward(None, np.ones((16, 4)), None, cache)
        rb = core.lstm_backward(None, np.ones((16, 4)), None, rcache)
        assert np.all(np.isfinite(nb[0])) and rel_norm(nb[0], rb[0]) < 1e-12
        for k in p:
            assert rel_norm(nb[3][k], rb[3][k]) < 1e-12, k


def test_overlapping_one_thread_holds_restore_the_count():
    from minilstm.kernels import blas, threads
    if not blas.can_set_threads():
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module can drive")
    before = blas.blas_threads()
    a = threads.one_thread_blas()
    a.__enter__()
    s = threads.step_blas_threads(4, 8)
    s.__enter__()
    a.__exit__(None, None, None)
    assert blas.blas_threads() == 1                      # still held by the inner block
    s.__exit__(None, None, None)
    assert blas.blas_threads() == before


def test_concurrent_calls_from_python_threads_agree_and_restore_the_count():
    from concurrent.futures import ThreadPoolExecutor

    from minilstm.kernels import blas, numba_cpu
    before = blas.blas_threads()
    rng = np.random.default_rng(8)
    cases = []
    for B in (2, 16, 17, 40, 64, 5, 33, 48):
        p = random_params(rng, 4, 8, scale=0.4)
        cases.append((rng.standard_normal((B, 6, 4)), p))

    def run(case):
        x, p = case
        out = numba_cpu.lstm_forward(x, None, None, p)
        return out[0], numba_cpu.lstm_backward(np.ones_like(out[0]), None, None, out[2])[3]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, cases * 3))
    for (x, p), (h, grads) in zip(cases * 3, results):
        ref = core.lstm_forward(x, None, None, p)
        rg = core.lstm_backward(np.ones_like(ref[0]), None, None, ref[2])[3]
        assert rel_norm(h, ref[0]) < 1e-12
        for k in p:
            assert rel_norm(grads[k], rg[k]) < 1e-12, k
    assert blas.blas_threads() == before


def test_asking_for_the_threading_layer_first_does_not_hide_the_gemm(monkeypatch):
    """The module's lazily found state must not depend on which of its functions is called first."""
    from minilstm.kernels import blas, threads
    monkeypatch.setattr(blas, "_STATE", {})
    threads.threaded_layer()
    assert (blas._gemm(np.float64) is None) == (blas._blas_info() is None)
    assert isinstance(threads.loop_threads(64), int)


# ---- the GRU's kernels run on the same machinery ---------------------------------------------------------

def _run_gru(dtype, B, T, D, H, with_dh_seq, seed=0):
    from minilstm.core import gru
    from minilstm.kernels import numba_gru
    rng = np.random.default_rng(seed)
    p = {k: rng.standard_normal(s) * 0.4 for k, s in (("W_x", (D, 3 * H)), ("W_h", (H, 3 * H)), ("b_x", (3 * H,)),
                                                      ("b_h", (3 * H,)))}
    x, h0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H))
    G, GhT = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    out = numba_gru.gru_forward(cast(x), cast(h0), {k: cast(v) for k, v in p.items()})
    back = numba_gru.gru_backward(cast(G) if with_dh_seq else None, cast(GhT), out[2])
    ref = gru.gru_forward(x, h0, p)
    rback = gru.gru_backward(G if with_dh_seq else None, GhT, ref[2])
    return out, back, ref, rback


@pytest.mark.parametrize("path", ["threaded", "compiled", "python"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("B,T,D,H", [(1, 6, 3, 5), (2, 5, 3, 4), (5, 7, 6, 5), (17, 4, 9, 16), (40, 3, 2, 33)])
@pytest.mark.parametrize("with_dh_seq", [True, False])
def test_every_gru_path_equals_the_reference(monkeypatch, path, dtype, tol, B, T, D, H, with_dh_seq):
    """The GRU's compiled time loops (rows over threads, one thread, and the Python loop without NumPy's gemm)
    stay within float rounding of ``minilstm.core.gru``."""
    _paths(monkeypatch, path, threads=3)
    out, back, ref, rback = _run_gru(dtype, B, T, D, H, with_dh_seq)
    assert out[0].dtype == dtype and out[0].flags.c_contiguous and back[0].flags.c_contiguous
    assert rel_norm(out[0], ref[0]) < tol and rel_norm(out[1], ref[1]) < tol
    for k in ("x_tm", "hs", "gates", "hn"):
        assert rel_norm(out[2][k], ref[2][k]) < tol, k
    for name, a, b in zip(("dx", "dh0"), back[:2], rback[:2]):
        assert a.shape == b.shape and rel_norm(a, b) < tol, name
    for k in ("W_x", "W_h", "b_x", "b_h"):
        assert back[2][k].shape == rback[2][k].shape and rel_norm(back[2][k], rback[2][k]) < tol, k


def test_threaded_gru_is_bitwise_reproducible(monkeypatch):
    _paths(monkeypatch, "threaded", threads=2)
    a, b = _run_gru(np.float32, 32, 6, 4, 16, True), _run_gru(np.float32, 32, 6, 4, 16, True)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    for x, y in zip(a[1][:2], b[1][:2]):
        np.testing.assert_array_equal(x, y)
    for k in a[1][2]:
        np.testing.assert_array_equal(a[1][2][k], b[1][2][k])
