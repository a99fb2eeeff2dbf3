"""One exception family for the whole library.

Every error minilstm raises on purpose is a ``MiniLSTMError``. The concrete
classes also inherit from the matching built-in (``ValueError``,
``TypeError``, ...) so ``except ValueError`` keeps working. Warnings minilstm
issues on purpose have their own classes too, at the end.
"""


class MiniLSTMError(Exception):
    """Base class of every error raised on purpose by minilstm."""


class ConfigError(MiniLSTMError, ValueError):
    """A configuration key or value is invalid."""


class ShapeError(MiniLSTMError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class DataError(MiniLSTMError, ValueError):
    """Input data are unusable (NaN/Inf, non-numeric, too short...)."""


class InputTypeError(MiniLSTMError, TypeError):
    """An argument has the wrong type."""


class NotFittedError(MiniLSTMError, RuntimeError):
    """A model or normalizer was used before ``fit``."""


class DeviceError(MiniLSTMError, RuntimeError):
    """The requested device or array backend is not available."""


class ModelFileError(MiniLSTMError, ValueError):
    """A model file is missing, truncated, corrupted, foreign or too new."""


class TrainingDivergedError(MiniLSTMError, FloatingPointError):
    """The loss became NaN or Inf during training."""


class CudaSelfTestWarning(RuntimeWarning):
    """The fused CUDA kernels failed their first-use self-test (``minilstm.kernels.cuda_selftest``); minilstm runs
    the reference on the GPU instead."""
