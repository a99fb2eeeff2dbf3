"""The Numba kernels against the NumPy reference (norm-wise), several shapes, both dtypes."""
import numpy as np
import pytest
from conftest import random_params, rel_norm

import minilstm
from minilstm import core
from minilstm.backend import numba_available
from minilstm.gradcheck import directional_check

pytestmark = pytest.mark.skipif(not numba_available, reason="Numba is not installed")
SHAPES = [(1, 1, 3, 4), (1, 20, 10, 64), (5, 7, 3, 5), (32, 20, 10, 64), (3, 1, 1, 17), (8, 12, 9, 33)]


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("B,T,D,H", SHAPES)
@pytest.mark.parametrize("with_dh_seq", [True, False])
def test_numba_equals_reference(dtype, tol, B, T, D, H, with_dh_seq):
    from minilstm.kernels import numba_cpu
    rng = np.random.default_rng(B * 1000 + T * 10 + H)
    p = random_params(rng, D, H, scale=0.4)
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    G, GhT, GcT = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    ref = core.lstm_forward(x, h0, c0, p)                            # float64 reference
    cast = lambda a: a.astype(dtype)  # noqa: E731
    out = numba_cpu.lstm_forward(cast(x), cast(h0), cast(c0), {k: cast(v) for k, v in p.items()})
    assert out[0].dtype == dtype
    for a, b in ((out[0], ref[0]), (out[1][0], ref[1][0]), (out[1][1], ref[1][1])):
        assert rel_norm(a, b) < tol
    for k in ("hs", "cs", "gates", "tanh_c"):
        assert rel_norm(out[2][k], ref[2][k]) < tol, k
    rb = core.lstm_backward(G if with_dh_seq else None, GhT, GcT, ref[2])
    nb = numba_cpu.lstm_backward(cast(G) if with_dh_seq else None, cast(GhT), cast(GcT), out[2])
    for a, b in zip(nb[:3], rb[:3]):
        assert rel_norm(a, b) < tol
    for k in p:
        assert rel_norm(nb[3][k], rb[3][k]) < tol, k
    np.testing.assert_array_equal(GhT, GhT.copy())


def test_numba_layer_directional_gradcheck_and_stack():
    rng = np.random.default_rng(0)
    lstm = minilstm.LSTM(4, 16, num_layers=3, kernels="numba", seed=2)
    ref = minilstm.LSTM(4, 16, num_layers=3, kernels="numpy", seed=2)
    x = rng.standard_normal((6, 9, 4))
    G = rng.standard_normal((6, 9, 16))
    out, _ = lstm.forward(x)
    lstm.backward(G)
    rout, _ = ref.forward(x)
    ref.backward(G)
    assert rel_norm(out, rout) < 1e-12
    for k in lstm.grads:
        assert rel_norm(lstm.grads[k], ref.grads[k]) < 1e-12

    def loss(params):
        saved = lstm.params
        lstm.params = params
        o, _ = lstm.forward(x)
        lstm.params = saved
        return float((o * G).sum())

    for seed in range(3):
        assert directional_check(loss, lstm.params, lstm.grads, seed=seed) < 1e-7


def test_float32_kernel_tanh_accuracy():
    import numba

    from minilstm.kernels import math as kmath

    @numba.njit
    def t32(x, out):
        for j in range(x.shape[0]):
            out[j] = kmath.tanh(x[j])

    x = np.linspace(-30, 30, 200001).astype(np.float32)
    out = np.empty_like(x)
    t32(x, out)
    assert np.max(np.abs(out - np.tanh(x.astype(np.float64)))) < 5e-7   # a few float32 ulps near +-1
    assert np.all(np.abs(out) <= 1.0)


def test_seeded_training_is_bitwise_reproducible():
    from minilstm import LSTMModel
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(300) / 7.0) + 0.1 * rng.standard_normal(300)
    preds = []
    for _ in range(2):
        m = LSTMModel({"hidden_size": 8, "num_layers": 2, "epochs": 2, "sequence_length": 10, "device": "cpu",
                       "kernels": "numba", "seed": 3})
        m.fit(series, series, verbose=False)
        preds.append(m.predict(series))
    np.testing.assert_array_equal(preds[0], preds[1])


def test_time_loop_runs_small_steps_on_one_blas_thread_and_restores_the_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import os

    from minilstm.kernels import threads
    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    mine = [c for c in blas.lib_controllers if os.path.basename(os.path.dirname(c.filepath)) == "numpy.libs"
            or c.filepath.startswith(os.path.join(numpy_dir, "numpy"))]
    if not mine:            # other BLAS libraries (SciPy's) may be loaded too: only NumPy's runs the products
        pytest.skip("threadpoolctl cannot find NumPy's BLAS here")
    numpy_blas = mine[0]
    before = numpy_blas.get_num_threads()
    with threads.step_blas_threads(32, 64):
        assert numpy_blas.get_num_threads() == 1
    assert numpy_blas.get_num_threads() == before
    big = int(np.sqrt(threads.STEP_SERIAL_MAX_FLOPS)) + 1
    with threads.step_blas_threads(big, big):
        assert numpy_blas.get_num_threads() == before


def test_float64_gate_functions_match_libm_everywhere():
    """The float64 sigmoid/tanh of the kernels (no libm: ``_exp_split``) stay within 4 ulp of NumPy's over
    the whole float range, keep the sign of zero and NaN, and saturate cleanly at +-inf; the float32 ones
    are the rational tanh (a few float32 ulp)."""
    import numba

    from minilstm.kernels.math import sigmoid, tanh

    @numba.njit
    def apply(x, th, sg):
        for i in range(x.shape[0]):
            th[i] = tanh(x[i])
            sg[i] = sigmoid(x[i])

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * s for s in (1e-300, 1e-12, 1e-4, 0.1, 0.35, 1, 3, 19, 40, 700)]
                       + [np.array([0.0, -0.0, 1e-320, 20.0, -20.0, 708.0, -708.0, 745.0, -745.0, 1e308, -1e308])])
    th, sg = np.empty_like(x), np.empty_like(x)
    apply(x, th, sg)
    z = np.exp(-np.abs(x))
    ref_sg = np.where(x >= 0, 1.0, z) / (1.0 + z)
    ok = np.abs(x) < 700                                  # beyond, e^-|x| is below 1e-304: both round to ~0 or 1
    assert np.max(np.abs(th - np.tanh(x)) / np.maximum(np.abs(np.tanh(x)), 1e-308)) < 8e-16
    assert np.max(np.abs(sg[ok] - ref_sg[ok]) / ref_sg[ok]) < 8e-16
    assert np.all(np.abs(sg[~ok] - ref_sg[~ok]) < 1e-300)
    np.testing.assert_array_equal(np.signbit(th), np.signbit(x))
    special = np.array([np.nan, np.inf, -np.inf])
    th, sg = np.empty(3), np.empty(3)
    apply(special, th, sg)
    assert np.isnan(th[0]) and np.isnan(sg[0])
    np.testing.assert_array_equal(th[1:], [1.0, -1.0])
    np.testing.assert_array_equal(sg[1], 1.0)
    assert 0.0 <= sg[2] < 1e-300
    x32 = x[np.abs(x) < 50].astype(np.float32)
    th32, sg32 = np.empty_like(x32), np.empty_like(x32)
    apply(x32, th32, sg32)
    assert np.max(np.abs(th32 - np.tanh(x32.astype(np.float64)))) < 2e-6


def test_workspaces_are_reused_but_never_handed_out():
    """The kernels keep their scratch arrays between calls (no fresh memory per call); nothing they return
    may live in one, and a second call with other data must not change the first call's results."""
    from minilstm.kernels import numba_cpu, workspace
    rng = np.random.default_rng(3)
    B, T, D, H = 32, 6, 5, 8
    p = random_params(rng, D, H, scale=0.4)
    runs = []
    for _ in range(2):
        x, G = rng.standard_normal((B, T, D)), rng.standard_normal((B, T, H))
        out, (h_T, c_T), cache = numba_cpu.lstm_forward(x, None, None, p)
        dx, dh0, dc0, dp = numba_cpu.lstm_backward(G, None, None, cache)
        runs.append(((x, G), [out, h_T, c_T, dx, dh0, dc0, *dp.values(), *(cache[k] for k in core.CACHE_KEYS[:-1])],
                     [a.copy() for a in (out, dx, *dp.values())]))
    kept = list(workspace._SCRATCH.arrays.values())
    assert {k[0] for k in workspace._SCRATCH.arrays} >= {"gate_rows", "a", "x_bf", "h_bf", "dh"}   # xw, then da
    for (x, G), handed_out, copies in runs:
        assert not any(np.shares_memory(a, s) for a in handed_out for s in kept)
        ref = core.lstm_forward(x, None, None, p)
        rb = core.lstm_backward(G, None, None, ref[2])
        for a, b in zip(copies, (ref[0], rb[0], *rb[3].values())):
            assert rel_norm(a, b) < 1e-12
        np.testing.assert_array_equal(handed_out[0], copies[0])    # the second call left the first's
        np.testing.assert_array_equal(handed_out[3], copies[1])    # results alone
    big = workspace.scratch("test_big", (workspace.SCRATCH_MAX_BYTES // 8 + 1,), np.float64)
    assert ("test_big", big.shape, "d") not in workspace._SCRATCH.arrays      # too large to keep
    for k in range(5):                                         # many shapes: the total kept stays bounded
        workspace.scratch("test_many", (workspace.SCRATCH_MAX_BYTES // 8 - k,), np.float64)
        assert sum(a.nbytes for a in workspace._SCRATCH.arrays.values()) <= 2 * workspace.SCRATCH_MAX_BYTES


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,K,N,lda", [(1, 64, 256, 64), (1, 256, 64, 300), (1, 3, 5, 3), (4, 7, 24, 7), (5, 9, 30, 11),
                                       (9, 33, 70, 40), (16, 96, 384, 96), (3, 1, 1, 1)])
def test_vector_product_equals_matmul_and_each_row_alone(dtype, n, K, N, lda):
    """simd.product: every tile and edge (wide tiles, one-vector tiles, columns past the last vector, rows past the
    last 4-row tile), strided A rows; each row's result bitwise the same computed alone (the row split's invariance)."""
    import kernel_entries
    rng = np.random.default_rng(n * 100 + N)
    A = rng.standard_normal((n, lda)).astype(dtype)
    W = rng.standard_normal((K, N)).astype(dtype)
    C = kernel_entries.product(A[:, :K], W)                           # A's rows strided by lda
    ref = A[:, :K].astype(np.float64) @ W.astype(np.float64)
    assert np.abs(C - ref).max() <= (1e-5 if dtype == np.float32 else 1e-13) * max(1.0, np.abs(ref).max()) * K
    for r in range(n):
        a_r = A[r].copy()
        row = kernel_entries.product(a_r[None, :K], W)
        np.testing.assert_array_equal(row[0], C[r])


@pytest.mark.parametrize("max_rows", [0, 64])
@pytest.mark.parametrize("B,T,D,H", [(1, 9, 3, 5), (6, 7, 3, 12), (33, 5, 4, 9)])
def test_both_step_products_equal_reference(monkeypatch, max_rows, B, T, D, H):
    """The per-step product through BLAS (max_rows 0) and through simd.product (64) both match the reference."""
    from minilstm.kernels import numba_cpu, simd
    monkeypatch.setattr(simd, "VECTOR_STEP_MAX_ROWS", max_rows)
    rng = np.random.default_rng(B + H)
    p = random_params(rng, D, H, scale=0.4)
    x, G = rng.standard_normal((B, T, D)), rng.standard_normal((B, T, H))
    ref = core.lstm_forward(x, None, None, p)
    out = numba_cpu.lstm_forward(x, None, None, p)
    assert rel_norm(out[0], ref[0]) < 1e-12
    rb, nb = core.lstm_backward(G, None, None, ref[2]), numba_cpu.lstm_backward(G, None, None, out[2])
    for a, b in zip(nb[:3], rb[:3]):
        assert rel_norm(a, b) < 1e-12
    for k in p:
        assert rel_norm(nb[3][k], rb[3][k]) < 1e-12, k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,K,N,lda", [(1, 256, 64, 256), (1, 12, 3, 20), (4, 24, 2, 24), (5, 33, 9, 40), (9, 7, 17, 7),
                                       (16, 384, 96, 384), (2, 3, 1, 3)])
def test_transposed_product_equals_matmul_and_each_row_alone(dtype, n, K, N, lda):
    """simd.product_nt: C = A @ W.T with W (N, K) row-major: dot tiles, the columns past the last tile, K past the
    last vector (and K shorter than a vector), strided A rows; each row bitwise the same computed alone."""
    import kernel_entries
    rng = np.random.default_rng(n * 100 + N + K)
    A = rng.standard_normal((n, lda)).astype(dtype)
    W = rng.standard_normal((N, K)).astype(dtype)
    C = kernel_entries.product_nt(A[:, :K], W)                        # A's rows strided by lda
    ref = A[:, :K].astype(np.float64) @ W.T.astype(np.float64)
    assert np.abs(C - ref).max() <= (1e-5 if dtype == np.float32 else 1e-13) * max(1.0, np.abs(ref).max()) * K
    for r in range(n):
        a_r = A[r].copy()
        row = kernel_entries.product_nt(a_r[None, :K], W)
        np.testing.assert_array_equal(row[0], C[r])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_training_step_never_holds_two_steps_caches(cell):
    """Each forward drops the last one's caches before it makes its own, and a backward's gate gradients take
    the buffer the forward's input products had: a second step peaks no higher than the first (whose peak
    also holds the workspaces it allocates). Keeping the last caches until the next forward had returned
    made every later step peak at two steps' caches (measured: 45 -> 70 MB at 64,50,10,128,2)."""
    import tracemalloc
    Layer = minilstm.GRU if cell == "gru" else minilstm.LSTM
    layer = Layer(10, 64, num_layers=2, dtype=np.float32, kernels="numba", seed=0)
    x = np.random.default_rng(0).standard_normal((32, 40, 10)).astype(np.float32)
    out, _ = layer.forward(x[:2, :3])
    layer.backward(np.ones_like(out))                                  # kernels loaded outside the trace
    peaks = []
    tracemalloc.start()
    try:
        for _ in range(2):
            tracemalloc.reset_peak()
            out, _ = layer.forward(x)
            layer.backward(np.ones_like(out))
            peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert peaks[1] <= 1.05 * peaks[0], peaks


@pytest.mark.parametrize("make", [lambda: minilstm.LSTM(3, 4, num_layers=2, kernels="numba"),
                                  lambda: minilstm.GRU(3, 4, num_layers=2, bidirectional=True, kernels="numba"),
                                  lambda: minilstm.Linear(3, 4)], ids=["lstm", "bigru", "linear"])
def test_a_forward_that_raises_leaves_no_caches_for_backward(make):
    """backward after a rejected forward must not return the gradient of the forward before it."""
    from minilstm.errors import MiniLSTMError, NotFittedError
    layer = make()
    rng = np.random.default_rng(0)
    good = rng.standard_normal((2, 5, 3) if not isinstance(layer, minilstm.Linear) else (2, 3))
    out = layer.forward(good)
    out = out[0] if isinstance(out, tuple) else out
    bad = good.copy()
    bad.flat[0] = np.nan
    with pytest.raises(MiniLSTMError):
        layer.forward(bad)
    with pytest.raises(NotFittedError, match="after a forward that raised"):
        layer.backward(np.ones_like(out))
