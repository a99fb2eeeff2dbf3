"""Kernel families: fast paths with the same signatures as the reference in ``minilstm.core``.

Each LSTM family exposes ``lstm_forward(x, h0, c0, params)`` and ``lstm_backward(dh_seq, dh_T, dc_T, cache)``
with the shapes, cache contents and results of ``minilstm.core.lstm``; the GRU's (``get_gru_impl``)
``gru_forward(x, h0, params)``/``gru_backward(dh_seq, dh_T, cache)`` of ``minilstm.core.gru``. The tests
hold every one to the reference.

By concern, shared by both cells:

- ``math``: tanh and sigmoid in the kernels' precision, and the compile options (``JIT``);
- ``numba_cpu`` (LSTM) and ``numba_gru`` (GRU): the row passes, the compiled time loops (one row range
  each) and the entries; ``rows``: what both cells' loops share (the products of a row range, and the
  threaded drivers that run a pass over the row ranges);
- ``simd``: the per-step product at few rows (private raw-pointer tiles);
- ``contract``: the size contract every entry checks, and the arrays the fused kernels prepare;
- ``blas``: NumPy's own gemm, callable from compiled code; ``threads``: the one thread policy (also what a
  multi-fit task runs in); ``workspace``: the per-thread scratch arrays;
- ``numba_optim``: Adam's update and the weights' moving average; ``compile_ahead``: the first training step's
  LSTM backward compiled in a helper process while the forward compiles; ``cuda`` and ``cuda_selftest``: the
  fused CUDA kernels (LSTM) and their first-use self-test.

Compiled code reads and writes raw memory, so every public kernel entry (``lstm_forward``, ``gru_backward``,
``numba_optim.adam_update``, ...) first checks its arguments (``minilstm.validate``'s checks, then a size contract:
exact shapes, C-contiguous, one dtype, float32 or float64): a mis-sized or strided array is a ``ShapeError``,
never a crash or a wrong value. Functions that take raw addresses or trust their callers are private
(``simd._product``, ``numba_cpu._forward_rows``).
"""
from ..errors import ConfigError
from .contract import KERNEL_DTYPES, check_contract, check_host_arrays, check_kernel_dtype

__all__ = ["KERNEL_DTYPES", "check_contract", "check_host_arrays", "check_kernel_dtype", "get_gru_impl", "get_impl"]


def get_impl(kernels):
    """The module implementing ``lstm_forward``/``lstm_backward`` for a resolved kernel family."""
    if kernels == "numpy":
        from ..core import lstm
        return lstm
    if kernels == "numba":
        from . import numba_cpu
        return numba_cpu
    if kernels == "cuda":
        from . import cuda
        return cuda
    raise ConfigError(f"unknown kernel family {kernels!r}; valid: 'numpy', 'numba', 'cuda'.")


def get_gru_impl(kernels):
    """The module implementing ``gru_forward``/``gru_backward`` for a resolved kernel family.
    On the GPU the GRU runs its reference (``minilstm.gru``) through CuPy."""
    if kernels in ("numpy", "cuda"):
        from ..core import gru
        return gru
    if kernels == "numba":
        from . import numba_gru
        return numba_gru
    raise ConfigError(f"unknown kernel family {kernels!r}; valid: 'numpy', 'numba', 'cuda'.")
