"""CUDA path (CuPy). Skips cleanly without a GPU; the kernel source is compiled with nvcc when present."""
import os
import shutil
import subprocess

import numpy as np
import pytest
from conftest import random_params, rel_norm

from minilstm.backend import cupy_available

gpu = pytest.mark.skipif(not cupy_available, reason="needs CuPy and a CUDA GPU")
SHAPES = [(1, 1, 3, 4), (1, 20, 10, 64), (5, 7, 3, 5), (32, 20, 10, 64), (64, 12, 10, 128), (3, 4, 6, 300)]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_kernel_source_compiles_with_nvcc(tmp_path):
    from minilstm.kernels import cuda
    src = tmp_path / "lstm_kernels.cu"
    src.write_text(cuda.CUDA_SOURCE + "\n" + cuda.explicit_instantiations() + "\n")
    r = subprocess.run(["nvcc", "-std=c++14", "-arch=sm_80", "-c", str(src), "-o", str(tmp_path / "k.o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr.lower(), r.stderr


def test_path_choice_is_sane_without_a_gpu():
    from minilstm.kernels import cuda
    assert cuda.choose_path(32, 64, 4) == ("persistent", 4)
    assert cuda.choose_path(1, 64, 4)[0] == "persistent"
    assert cuda.choose_path(1024, 1024, 4)[0] == "cublas"
    assert cuda.choose_path(256, 512, 4)[0] == "cublas"
    for B, H, itemsize in [(7, 256, 8), (300, 200, 8), (64, 128, 4)]:
        path, R = cuda.choose_path(B, H, itemsize)
        if path == "persistent":
            assert R * 4 * H * itemsize <= cuda.SHARED_LIMIT and H <= cuda.MAX_THREADS


@gpu
@pytest.mark.cuda
@pytest.mark.parametrize("path", ["persistent", "cublas"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("B,T,D,H", SHAPES)
def test_cuda_kernels_equal_float64_reference(path, dtype, tol, B, T, D, H, monkeypatch):
    import cupy as cp

    from minilstm import core
    from minilstm.kernels import cuda
    monkeypatch.setattr(cuda, "FORCE_PATH", path)
    rng = np.random.default_rng(B + T + H)
    p = random_params(rng, D, H, scale=0.4)
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    G, GhT, GcT = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    ref = core.lstm_forward(x, h0, c0, p)
    rb = core.lstm_backward(G, GhT, GcT, ref[2])
    d = lambda a: cp.asarray(a, dtype=dtype)  # noqa: E731
    out = cuda.lstm_forward(d(x), d(h0), d(c0), {k: d(v) for k, v in p.items()})
    gb = cuda.lstm_backward(d(G), d(GhT), d(GcT), out[2])
    assert rel_norm(cp.asnumpy(out[0]), ref[0]) < tol
    assert rel_norm(cp.asnumpy(out[1][1]), ref[1][1]) < tol
    for a, b in zip(gb[:3], rb[:3]):
        assert rel_norm(cp.asnumpy(a), b) < tol
    for k in p:
        assert rel_norm(cp.asnumpy(gb[3][k]), rb[3][k]) < tol, k
    nb = cuda.lstm_backward(None, d(GhT), None, out[2])                  # loss on the last state only
    rn = core.lstm_backward(None, GhT, None, ref[2])
    assert rel_norm(cp.asnumpy(nb[0]), rn[0]) < tol


@gpu
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_first_use_selftest_passes_on_this_gpu(dtype):
    import cupy as cp

    from minilstm import core
    from minilstm.kernels import cuda, cuda_selftest
    v = cuda_selftest.run_selftest(cuda, core, cp, dtype, cuda_selftest.describe_cuda_device(cp))
    assert v.passed, cuda_selftest.failure_message(v)


@gpu
@pytest.mark.cuda
def test_cuda_layer_directional_gradcheck():
    import minilstm
    from minilstm.gradcheck import directional_check
    lstm = minilstm.LSTM(4, 32, num_layers=2, device="cuda", seed=1)
    assert lstm.kernels == "cuda"
    import cupy as cp
    x = cp.asarray(np.random.default_rng(0).standard_normal((8, 10, 4)))
    G = cp.asarray(np.random.default_rng(1).standard_normal((8, 10, 32)))
    lstm.forward(x)
    lstm.backward(G)

    def loss(params):
        saved, lstm.params = lstm.params, params
        out, _ = lstm.forward(x)
        lstm.params = saved
        return float((out * G).sum())

    assert directional_check(loss, lstm.params, lstm.grads) < 1e-7


@gpu
@pytest.mark.cuda
def test_model_trained_on_gpu_loads_on_cpu_with_identical_predictions(tmp_path):
    from minilstm import LSTMModel
    s = np.sin(np.arange(300) / 6.0)
    m = LSTMModel({"hidden_size": 16, "epochs": 2, "sequence_length": 8, "device": "cuda", "dtype": "float64"})
    m.fit(s, s, verbose=False)
    assert m.device == "cuda"
    p_gpu = m.predict(s)
    assert isinstance(p_gpu, np.ndarray)
    m.save(tmp_path / "gpu.minilstm")
    cpu = LSTMModel().load(tmp_path / "gpu.minilstm", device="cpu")
    assert cpu.device == "cpu"
    np.testing.assert_allclose(cpu.predict(s), p_gpu, rtol=1e-10, atol=1e-12)


def test_gpu_check_script_is_ready():
    here = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks")
    script = os.path.join(here, "gpu_check.sh")
    assert os.access(script, os.X_OK)
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
