"""Kernel families: fast paths with the same signatures as ``minilstm.core``.

Each module exposes ``lstm_forward(x, h0, c0, params)`` and
``lstm_backward(dh_seq, dh_T, dc_T, cache)`` with the shapes, cache contents and
results of the reference in ``minilstm.core``; the tests hold every one to it.
"""


def get_impl(kernels):
    """The module implementing ``lstm_forward``/``lstm_backward`` for a resolved kernel family."""
    if kernels == "numpy":
        from .. import core
        return core
    if kernels == "numba":
        from . import numba_cpu
        return numba_cpu
    if kernels == "cuda":
        from . import cuda
        return cuda
    raise ValueError(f"unknown kernel family {kernels!r}")
