"""The fused CUDA kernels' first-use self-test, on the CPU: NumPy stands in for CuPy, fakes for the kernels.

A correct fake (the reference itself, or the Numba kernels) passes silently; a wrong forward output, a wrong
single weight gradient, a NaN, a wrong shape or an exception fails it: one CudaSelfTestWarning per dtype with
the largest difference, and the layer runs the reference. kernels='cuda' by name raises instead;
MINILSTM_CUDA_SELFTEST=0 skips; the verdict is kept per dtype.
"""
import types
import warnings

import numpy as np
import pytest

from minilstm import backend, core
from minilstm.errors import CudaSelfTestWarning, DeviceError, MiniLSTMError
from minilstm.kernels import cuda
from minilstm.kernels import cuda_selftest as st

DTYPES = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """No verdict from another test, and the self-test enabled whatever the environment says."""
    monkeypatch.delenv(st.ENV_VAR, raising=False)
    st.forget_verdicts()
    yield
    st.forget_verdicts()


def fake_gpu():
    """What a warning names as the device."""
    return "FakeGPU 9000 (device 0), CUDA runtime 12.4, driver 12.6, CuPy 13.3.0"


def kernels(forward=core.lstm_forward, backward=core.lstm_backward):
    """A kernel module: lstm_forward/lstm_backward (default: the reference itself, a correct kernel)."""
    return types.SimpleNamespace(lstm_forward=forward, lstm_backward=backward)


def wrong_output(delta):
    """The reference with one forward output element off by ``delta`` (the caches, so the gradients, right)."""
    def forward(x, h0, c0, params):
        out, states, cache = core.lstm_forward(x, h0, c0, params)
        out[0, 0, 0] += delta
        return out, states, cache
    return kernels(forward=forward)


def wrong_gradient(key, factor):
    """The reference with one weight gradient (``key`` of dparams) scaled by ``factor``."""
    def backward(dh_seq, dh_T, dc_T, cache):
        dx, dh0, dc0, dparams = core.lstm_backward(dh_seq, dh_T, dc_T, cache)
        return dx, dh0, dc0, dict(dparams, **{key: dparams[key] * factor})
    return kernels(backward=backward)


def raising(message="cudaErrorIllegalAddress: an illegal memory access was encountered"):
    def forward(*args):
        raise RuntimeError(message)
    return kernels(forward=forward)


class Counting:
    """A correct kernel module that counts its forward calls."""

    def __init__(self):
        self.calls = 0

    def lstm_forward(self, *args):
        self.calls += 1
        return core.lstm_forward(*args)

    lstm_backward = staticmethod(core.lstm_backward)


def check(kernel, dtype, explicit=False):
    """fused_kernels_ok with NumPy as the array module and the fake device."""
    return st.fused_kernels_ok(dtype, explicit=explicit, kernel=kernel, reference=core, xp=np, describe=fake_gpu)


def one_warning(caught):
    found = [w for w in caught if issubclass(w.category, CudaSelfTestWarning)]
    assert len(found) == 1, [str(w.message) for w in caught]
    return str(found[0].message)


# ---- the verdict ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_correct_kernel_passes_silently(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(kernels(), dtype) is True
        assert check(kernels(), dtype, explicit=True) is True
    v = st._verdicts[np.dtype(dtype)]
    assert v.passed and v.error == "" and v.difference <= st.TOLERANCES[np.dtype(dtype)]
    assert (v.difference > 0) == (dtype == np.float32)      # the reference runs in float64: float32 rounds


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_kernels_pass_as_a_correct_different_implementation(dtype):
    if not backend.numba_available:
        pytest.skip("needs Numba")
    from minilstm.kernels import numba_cpu
    v = st.run_selftest(numba_cpu, core, np, dtype)
    assert v.passed, v


@pytest.mark.parametrize("dtype", DTYPES)
def test_wrong_forward_output_warns_once_with_the_largest_difference_and_falls_back(dtype):
    with pytest.warns(CudaSelfTestWarning) as caught:
        assert check(wrong_output(1e-3), dtype) is False
        assert check(wrong_output(1e-3), dtype) is False          # cached: no second run, no second warning
    msg = one_warning(caught)
    v = st._verdicts[np.dtype(dtype)]
    assert not v.passed and v.error == "" and v.where.startswith("out,")
    assert 1e-3 <= v.difference < 1.0                              # |h| < 1: the relative difference is >= delta
    assert f"{v.difference:.3g}" in msg and "out, B=" in msg
    for words in ("FakeGPU 9000", "CUDA runtime 12.4", "CuPy 13.3.0", str(np.dtype(dtype)), "issue tracker",
                  "gpu_check.sh", "MINILSTM_CUDA_SELFTEST=0", "reference"):
        assert words in msg, (words, msg)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", ["W_x", "W_h", "b"])
def test_one_wrong_weight_gradient_warns_with_its_name_and_falls_back(dtype, key):
    with pytest.warns(CudaSelfTestWarning) as caught:
        assert check(wrong_gradient(key, 1 + 1e-3), dtype) is False
    msg = one_warning(caught)
    v = st._verdicts[np.dtype(dtype)]
    assert v.where.startswith(f"d{key}") and v.difference == pytest.approx(1e-3, rel=1e-2)
    assert "differ from the reference by up to 0.001 " in msg and f"d{key}" in msg


@pytest.mark.parametrize("index,name", [(1, "dh0"), (2, "dc0")])
def test_wrong_state_gradient_for_a_loss_on_h_n_only_is_caught(index, name):
    """The kernels' second backward branch (no dh_seq, no dc_T) is checked on its own."""
    def backward(dh_seq, dh_T, dc_T, cache):
        grads = list(core.lstm_backward(dh_seq, dh_T, dc_T, cache))
        if dh_seq is None:
            grads[index] = -grads[index]
        return tuple(grads)
    with pytest.warns(CudaSelfTestWarning, match=f"in {name} \\(loss on h_n only\\), B="):
        assert check(kernels(backward=backward), np.float64) is False
    assert st._verdicts[np.dtype(np.float64)].difference == pytest.approx(2.0)


def test_tolerance_is_per_dtype():
    """A gradient 1e-6 off fails float64 (1e-10) and passes float32 (1e-4)."""
    with pytest.warns(CudaSelfTestWarning, match="float64"):
        assert check(wrong_gradient("W_h", 1 + 1e-6), np.float64) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(wrong_gradient("W_h", 1 + 1e-6), np.float32) is True


def test_nan_and_wrong_shape_fail():
    def nan_forward(x, h0, c0, params):
        out, states, cache = core.lstm_forward(x, h0, c0, params)
        return out * np.nan, states, cache

    def short_forward(x, h0, c0, params):
        out, states, cache = core.lstm_forward(x, h0, c0, params)
        return out[:, :-1], states, cache
    nan = st.run_selftest(kernels(forward=nan_forward), core, np, np.float64)
    assert not nan.passed and np.isnan(nan.difference) and nan.where.startswith("out,")
    short = st.run_selftest(kernels(forward=short_forward), core, np, np.float64)
    assert not short.passed and short.difference == np.inf and short.where.startswith("out,")


@pytest.mark.parametrize("dtype", DTYPES)
def test_raising_kernel_falls_back_with_the_error_in_the_warning(dtype):
    with pytest.warns(CudaSelfTestWarning) as caught:
        assert check(raising(), dtype) is False
    msg = one_warning(caught)
    assert "raised RuntimeError: cudaErrorIllegalAddress" in msg and "FakeGPU 9000" in msg


def test_the_real_cuda_entry_failing_at_its_first_launch_falls_back(monkeypatch):
    """minilstm.kernels.cuda itself, NumPy as its CuPy and a kernel loader that fails as a broken driver would."""
    fake = types.SimpleNamespace(ndarray=np.ndarray, ascontiguousarray=np.ascontiguousarray, empty=np.empty,
                                 zeros=np.zeros, matmul=np.matmul, add=np.add)
    monkeypatch.setattr(cuda, "cp", fake)

    def broken(name):
        raise RuntimeError(f"CUDA_ERROR_NO_BINARY_FOR_GPU loading {name}")
    monkeypatch.setattr(cuda, "_fn", broken)
    with pytest.warns(CudaSelfTestWarning, match="CUDA_ERROR_NO_BINARY_FOR_GPU loading lstm_forward_persistent"):
        assert check(cuda, np.float32) is False


def test_explicit_cuda_request_raises_instead_of_falling_back():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeviceError) as e:
            check(wrong_gradient("W_h", 2.0), np.float64, explicit=True)
    msg = str(e.value)
    assert isinstance(e.value, MiniLSTMError)
    assert "dW_h" in msg and "FakeGPU 9000" in msg and "kernels='auto'" in msg and "issue tracker" in msg
    with pytest.raises(DeviceError):                               # the cached failure raises again
        check(kernels(), np.float64, explicit=True)
    with pytest.warns(CudaSelfTestWarning) as caught:              # auto: not yet warned, so one warning now
        assert check(kernels(), np.float64) is False
    one_warning(caught)


@pytest.mark.parametrize("value", ["0", "false", "OFF", " no "])
def test_environment_variable_skips_the_selftest(monkeypatch, value):
    monkeypatch.setenv(st.ENV_VAR, value)
    counting = Counting()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(raising(), np.float64, explicit=True) is True
        assert check(counting, np.float32) is True
    assert counting.calls == 0 and st._verdicts == {}
    assert st.selftest_enabled({st.ENV_VAR: "1"}) and st.selftest_enabled({})


def test_verdict_is_cached_per_dtype():
    counting = Counting()
    assert check(counting, np.float64) and check(counting, np.float64)
    assert counting.calls == len(st.PROBLEMS)                      # one run: one forward per problem
    assert check(counting, np.float32)
    assert counting.calls == 2 * len(st.PROBLEMS)
    with pytest.warns(CudaSelfTestWarning) as caught:              # a failure is kept too, for its dtype only
        st.forget_verdicts()
        assert check(raising(), np.float32) is False
        assert check(counting, np.float32) is False
        assert check(counting, np.float64) is True
    one_warning(caught)
    with pytest.warns(CudaSelfTestWarning, match="float64"):       # one warning per failing dtype
        st.forget_verdicts()
        check(raising(), np.float64)


def test_problems_run_every_compiled_kernel_in_both_dtypes():
    for itemsize in (4, 8):
        paths = [cuda.choose_path(B, H, itemsize) for B, T, D, H in st.PROBLEMS]
        assert "cublas" in {p for p, R in paths}
        assert {R for p, R in paths if p == "persistent"} == set(cuda.ROWS)
        for (p, R), (B, *_) in zip(paths, st.PROBLEMS):
            assert p == "cublas" or R == 1 or B % R == 1          # a last block holding one row


def test_describe_cuda_device_names_gpu_and_versions_and_never_raises():
    device = types.SimpleNamespace(id=0)
    runtime = types.SimpleNamespace(getDeviceProperties=lambda i: {"name": b"NVIDIA H100 80GB HBM3"},
                                    runtimeGetVersion=lambda: 12040, driverGetVersion=lambda: 12060)
    cp = types.SimpleNamespace(cuda=types.SimpleNamespace(Device=lambda: device, runtime=runtime), __version__="13.3.0")
    assert st.describe_cuda_device(cp) == ("NVIDIA H100 80GB HBM3 (device 0), CUDA runtime 12.4, driver 12.6, "
                                           "CuPy 13.3.0")
    assert st.describe_cuda_device(object()) == ("an unidentified GPU, CUDA runtime unknown, driver unknown, "
                                                 "CuPy unknown")


# ---- the layer: where the kernels are chosen -----------------------------------------------------------

class FakeCuPy:
    """NumPy under CuPy's name: enough of CuPy for a layer built with device='cuda' to run on the host."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def get_array_module(*arrays):
        return np

    asnumpy = staticmethod(np.asarray)


@pytest.fixture
def gpu(monkeypatch):
    """A 'GPU' for the layers (backend sees CuPy and a device) whose fused kernels are minilstm.kernels.cuda with
    the reference's functions; set ``gpu.kernel`` to replace them. Returns the namespace."""
    monkeypatch.setattr(backend, "_cupy", FakeCuPy())
    monkeypatch.setattr(backend, "cupy_available", True)
    state = types.SimpleNamespace(kernel=kernels())
    monkeypatch.setattr(cuda, "lstm_forward", lambda *a: state.kernel.lstm_forward(*a))
    monkeypatch.setattr(cuda, "lstm_backward", lambda *a: state.kernel.lstm_backward(*a))
    monkeypatch.setattr(st, "describe_cuda_device", lambda xp: fake_gpu())
    return state


def _train_step(lstm, seed=0):
    rng = np.random.default_rng(seed)
    x, G = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 5))
    out, (h_n, c_n) = lstm.forward(x)
    return out, h_n, c_n, lstm.backward(G), dict(lstm.grads)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_keeps_passing_fused_kernels(gpu, dtype):
    import minilstm
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert minilstm.LSTM(2, 5, dtype=dtype, device="auto").kernels == "cuda"
        assert minilstm.LSTM(2, 5, dtype=dtype, device="cuda", kernels="CUDA").kernels == "cuda"
    assert st._verdicts[np.dtype(dtype)].passed


def test_layer_falls_back_to_the_reference_on_the_gpu_and_gives_its_results(gpu):
    import minilstm
    gpu.kernel = wrong_gradient("W_h", 1.5)
    with pytest.warns(CudaSelfTestWarning) as caught:
        lstm = minilstm.LSTM(2, 5, num_layers=2, device="cuda", seed=3)
        second = minilstm.LSTM(2, 5, device="auto", kernels="auto")
    one_warning(caught)
    assert lstm.kernels == "numpy" and second.kernels == "numpy" and lstm.device == "cuda"
    assert isinstance(lstm.xp, FakeCuPy)                              # still on the 'GPU', through core
    cpu = minilstm.LSTM(2, 5, num_layers=2, device="cpu", kernels="numpy", seed=3)
    for a, b in zip(_train_step(lstm)[:3], _train_step(cpu)[:3]):
        np.testing.assert_array_equal(a, b)
    assert all(np.array_equal(lstm.grads[k], cpu.grads[k]) for k in cpu.grads)


def test_layer_with_kernels_cuda_by_name_raises(gpu):
    import minilstm
    gpu.kernel = raising()
    with pytest.raises(DeviceError, match="raised RuntimeError: cudaErrorIllegalAddress"):
        minilstm.LSTM(2, 5, device="cuda", kernels="cuda")
    with pytest.warns(CudaSelfTestWarning):
        assert minilstm.LSTM(2, 5, device="cuda").kernels == "numpy"


def test_model_with_auto_kernels_falls_back_instead_of_raising(gpu):
    from minilstm.forecast.config import validate_config
    from minilstm.forecast.training import build_network
    gpu.kernel = raising()
    with pytest.warns(CudaSelfTestWarning):
        net = build_network(validate_config({"device": "cuda", "hidden_size": 4, "dtype": "float32"}), 2, 1)
    assert net.lstm.kernels == "numpy" and net.lstm.device == "cuda"
    with pytest.raises(DeviceError):
        build_network(validate_config({"device": "cuda", "kernels": "cuda", "hidden_size": 4}), 2, 1)


def test_no_selftest_for_the_gru_or_on_the_cpu(gpu):
    import minilstm
    gpu.kernel = raising()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert minilstm.GRU(2, 5, device="cuda", kernels="cuda").kernels == "cuda"   # its reference on CuPy
        minilstm.LSTM(2, 5, device="cpu")
        minilstm.LSTM(2, 5, device="cpu", kernels="numpy")
    assert st._verdicts == {}
