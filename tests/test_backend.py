import numpy as np
import pytest

import minilstm
from minilstm import backend
from minilstm.errors import DeviceError, MiniLSTMError


def test_cpu_and_auto():
    assert backend.resolve_device("cpu") == "cpu"
    assert backend.resolve_device("auto") in ("cpu", "cuda")
    assert backend.get_array_module(np.zeros(2)) is np
    assert backend.resolve_kernels("numpy", "cpu") == "numpy"
    assert backend.resolve_kernels("auto", "cpu") == ("numba" if backend.numba_available else "numpy")


@pytest.mark.skipif(backend.cupy_available, reason="a GPU is present")
def test_cuda_without_gpu_says_what_is_missing_and_how_to_fix():
    with pytest.raises(DeviceError) as e:
        backend.resolve_device("cuda")
    msg = str(e.value)
    assert "pip install" in msg and "minilstm[cuda]" in msg and "device='cpu'" in msg
    assert isinstance(e.value, MiniLSTMError) and isinstance(e.value, RuntimeError)
    with pytest.raises(DeviceError):
        minilstm.LSTM(2, 3, device="cuda")


def test_bad_device_and_kernels_strings():
    with pytest.raises(ValueError, match="device must be one of"):
        backend.resolve_device("gpu0")
    with pytest.raises(ValueError, match="kernels must be one of"):
        backend.resolve_kernels("fast", "cpu")
    with pytest.raises(ValueError, match="needs device='cuda'"):
        backend.resolve_kernels("cuda", "cpu")


def test_library_never_imports_torch():
    import subprocess
    import sys
    code = ("import sys, minilstm, minilstm.forecast, minilstm.datasets, minilstm.plotting, minilstm.cli;"
            "import minilstm.kernels.numba_cpu; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
