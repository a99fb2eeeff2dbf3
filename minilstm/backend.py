"""Array backends: which array module (NumPy or CuPy) and which kernel family.

Everything in ``minilstm.core`` takes its array module from
``get_array_module(*arrays)``, so the same functions run on NumPy and CuPy
arrays. Choosing a device happens once, at construction of a layer or model;
nothing below ``forecast`` looks at device strings.

Kernel families (``kernels=`` argument of ``LSTM``):

- ``"numpy"``: the reference implementation in ``minilstm.core`` (any device).
- ``"numba"``: fused CPU kernels in ``minilstm.kernels.numba_cpu``.
- ``"cuda"``:  fused CUDA kernels in ``minilstm.kernels.cuda`` (CuPy).
- ``"auto"``:  ``"cuda"`` on the GPU, ``"numba"`` on the CPU when Numba imports,
  else ``"numpy"``.

No GPU path has yet run on real hardware: not the fused CUDA kernels (compiled with nvcc only), not
the reference through CuPy, not the GRU through CuPy. So the first time a process builds an LSTM layer
that would run the fused kernels for a dtype, they run a self-test against the reference on the GPU
(``minilstm.kernels.cuda_selftest``): on a failure minilstm warns once per dtype
(``CudaSelfTestWarning``) and the layer runs the reference on the GPU (its ``kernels`` becomes
``"numpy"``); with ``kernels="cuda"`` asked for by name it raises ``DeviceError`` instead.
The environment variable ``MINILSTM_CUDA_SELFTEST=0`` skips the self-test.
"""
import numpy as np

from .errors import ConfigError, DeviceError

try:  # CuPy is optional: the `cuda` extra.
    import cupy as _cupy

    try:
        cupy_available = _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # driver missing, no device, ...
        cupy_available = False
except Exception:  # ImportError, or a broken CUDA install
    _cupy = None
    cupy_available = False

try:
    import numba as _numba  # noqa: F401

    numba_available = True
except Exception:
    numba_available = False

DEVICES = ("cpu", "cuda", "auto")
KERNELS = ("auto", "numpy", "numba", "cuda")

CUDA_HELP = (
    "device='cuda' needs CuPy and an NVIDIA GPU. Install the extra with "
    "`pip install 'minilstm[cuda]'` (CuPy for CUDA 12), check `nvidia-smi`, "
    "or use device='cpu'."
)


def resolve_device(device="auto"):
    """Return ``'cpu'`` or ``'cuda'`` for a device request.

    ``'auto'`` picks ``'cuda'`` when CuPy sees a GPU, else ``'cpu'``.
    ``'cuda'`` without CuPy or a GPU raises ``DeviceError`` saying what is missing.
    No GPU path has yet run on real hardware; the fused kernels' first-use self-test guards LSTM
    layers (see the module docstring).
    """
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise ConfigError(f"device must be one of {DEVICES}, got {device!r}.")
    device = device.lower()
    if device == "auto":
        return "cuda" if cupy_available else "cpu"
    if device == "cuda" and not cupy_available:
        what = "CuPy is not installed" if _cupy is None else "CuPy found no CUDA GPU"
        raise DeviceError(f"{what}. {CUDA_HELP}")
    return device


def resolve_kernels(kernels, device):
    """Return the kernel family (``'numpy'``, ``'numba'`` or ``'cuda'``) for a resolved device."""
    if not isinstance(kernels, str) or kernels.lower() not in KERNELS:
        raise ConfigError(f"kernels must be one of {KERNELS}, got {kernels!r}.")
    kernels = kernels.lower()
    if kernels == "auto":
        if device == "cuda":
            return "cuda"
        return "numba" if numba_available else "numpy"
    if kernels == "numba":
        if device != "cpu":
            raise ConfigError("kernels='numba' runs on the CPU only; use device='cpu' or kernels='cuda'.")
        if not numba_available:
            raise DeviceError("kernels='numba' needs Numba: `pip install numba`, or use kernels='numpy'.")
    if kernels == "cuda" and device != "cuda":
        raise ConfigError("kernels='cuda' needs device='cuda'.")
    return kernels


def xp_for(device):
    """The array module for a resolved device: ``numpy`` or ``cupy``."""
    if device == "cuda":
        if not cupy_available:
            raise DeviceError(CUDA_HELP)
        return _cupy
    return np


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy`` (like ``cupy.get_array_module``)."""
    if _cupy is not None:
        return _cupy.get_array_module(*arrays)
    return np


def to_numpy(a):
    """A NumPy copy-or-view of ``a`` (CuPy arrays come back to the host)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def loaded_device(saved_device, saved_kernels, requested=None):
    """Where a saved model runs when it is loaded: (device, kernels). ``requested`` ('cpu', 'cuda', 'auto' or
    None) overrides the saved device; a model saved on 'cuda' loads on the CPU where CuPy is absent, and its
    'cuda' kernels become 'auto' wherever it then runs on the CPU."""
    device, kernels = saved_device, saved_kernels
    if requested is not None:
        device = requested
    elif device == "cuda" and not cupy_available:
        device = "cpu"                             # a model trained on a GPU loads on a CPU-only machine
    if kernels == "cuda" and device in ("cpu", "auto") and (requested or not cupy_available):
        kernels = "auto"
    return device, kernels
