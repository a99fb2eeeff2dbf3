"""Optimizers and gradient clipping. None of these live inside backward, so a
gradient check always sees the true gradient.

An optimizer updates a dict of parameter arrays in place from a dict of
gradients with the same keys: ``opt = Adam(model.params, lr=1e-3); opt.step(grads)``.
"""
import math
import os
from collections.abc import Mapping

import numpy as np

from .backend import get_array_module, numba_available
from .errors import ConfigError, InputTypeError
from .validate import REAL, check_array, check_keys_match, check_number


def check_grad_dict(grads, name="grads"):
    """A dict of float arrays (NumPy or CuPy)."""
    if type(grads) is dict and all(type(g) is np.ndarray and g.dtype.kind == "f" for g in grads.values()):
        return grads                     # the common case, in one comparison per array; else the checks below
    if not isinstance(grads, Mapping):
        raise InputTypeError(f"{name} must be a dict of arrays (name -> gradient), got {type(grads).__name__}.")
    for k, g in grads.items():
        check_array(g, f"{name}[{k!r}]")
    return grads


def global_norm(grads):
    """``sqrt(sum over all arrays of sum(g**2))`` as a Python float. Integer arrays are squared in float64 (never
    wrapped around); finite values whose squares overflow (or underflow) are scaled by the largest ``|g|`` first, so
    the norm of finite gradients is right whenever it fits a float (NaN or Inf in the gradients give NaN or Inf).
    grads: a dict of name -> real array (checked)."""
    if not isinstance(grads, Mapping):
        raise InputTypeError(f"grads must be a dict of arrays (name -> gradient), got {type(grads).__name__}.")
    for k, g in grads.items():
        check_array(g, f"grads[{k!r}]", kind=REAL)
    return _global_norm(grads)


_SMALL = 1e-30          # below this sum of squares some squares may have underflowed (float32's tiny is 1.2e-38)


def _global_norm(grads):
    """``global_norm`` without the argument check (its callers checked)."""
    arrays = [g if g.dtype.kind == "f" else g.astype(np.float64) for g in grads.values()]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        total = sum(float((g * g).sum()) for g in arrays)
        if math.isfinite(total) and (total > _SMALL or total == 0.0 and not any(g.any() for g in arrays)):
            return math.sqrt(total)
        peak = max((float(abs(g).max()) for g in arrays if g.size), default=0.0)
        if not math.isfinite(peak) or peak == 0.0:                    # max is NaN or Inf where a value is
            return total                                               # NaN or Inf in the gradients themselves
        scaled = sum(float(((g.astype(np.float64) / peak) ** 2).sum()) for g in arrays)
    return peak * math.sqrt(scaled)


def clip_grad_norm(grads, max_norm):
    """Global-norm clipping: if ||g|| > max_norm, scale every gradient by max_norm / ||g||.

    max_norm: a finite number > 0, or None for no clipping.
    Returns (clipped, total_norm): a NEW dict (the input is not modified) and the norm before clipping.
    A non-finite norm is returned with the gradients unchanged, so the caller can report the divergence.
    """
    max_norm = check_number(max_norm, "max_norm", low=0.0, low_open=True, allow_none=True)
    check_grad_dict(grads)
    total = _global_norm(grads)
    if max_norm is None or not math.isfinite(total) or total <= max_norm:
        return dict(grads), total
    scale = max_norm / (total + 1e-12)
    return {k: g * scale for k, g in grads.items()}, total


class Optimizer:
    """Base class: holds the params dict (updated in place), the learning rate and the step count t.

    ``step(grads)`` checks that grads has exactly the params' keys and shapes before changing anything.
    """

    def __init__(self, params, lr):
        lr = check_number(lr, "learning rate lr", low=0.0, low_open=True)
        check_grad_dict(params, "params")
        if not params:
            raise ConfigError("params is empty: pass the model's parameter dict (e.g. lstm.params).")
        self.params, self.lr, self.t = params, lr, 0

    def check_grads(self, grads):
        """grads: the params' keys, each with its parameter's shape (else ShapeError naming them)."""
        if type(grads) is dict and grads.keys() == self.params.keys() and all(
                type(g) is np.ndarray and g.dtype.kind == "f" and g.shape == p.shape
                for g, p in zip((grads[k] for k in self.params), self.params.values())):
            return                       # the common case, in a few comparisons per array; else the checks below
        check_grad_dict(grads)
        check_keys_match(grads, self.params, "grads", "params")
        for k, p in self.params.items():
            check_array(grads[k], f"grads[{k!r}]", shape=tuple(p.shape))

    def _zeros(self):
        return {k: get_array_module(p).zeros_like(p) for k, p in self.params.items()}

    def state_dict(self):
        """The step count and learning rate: ``{"t": ..., "lr": ...}``."""
        return {"t": self.t, "lr": self.lr}


class SGD(Optimizer):
    """v = momentum * v + (g + wd * p);  p -= lr * v  (PyTorch's SGD without dampening)."""

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum = check_number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        self.v = self._zeros()

    def step(self, grads):
        """One update of every parameter, in place, from ``grads`` (a dict keyed like the parameters)."""
        self.check_grads(grads)
        self.t += 1
        for k, p in self.params.items():
            g = grads[k] + self.weight_decay * p if self.weight_decay else grads[k]
            if self.momentum:
                self.v[k] = self.momentum * self.v[k] + g if self.t > 1 else g.copy()
                g = self.v[k]
            p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba). ``weight_decay`` here is L2 added to the gradient, as in torch.optim.Adam.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps)
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ConfigError(f"betas must be a pair (beta1, beta2), each in [0, 1), got {betas!r}.")
        self.b1 = check_number(betas[0], "betas[0] (beta1)", low=0.0, high=1.0, high_open=True)
        self.b2 = check_number(betas[1], "betas[1] (beta2)", low=0.0, high=1.0, high_open=True)
        self.eps = check_number(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        self.m, self.v = self._zeros(), self._zeros()

    def step(self, grads):
        """One Adam update of every parameter, in place, from ``grads`` (a dict keyed like the parameters)."""
        self.check_grads(grads)
        self.t += 1
        c1, c2 = 1.0 - self.b1 ** self.t, 1.0 - self.b2 ** self.t
        gs = {}
        for k, p in self.params.items():
            g = grads[k]
            if self.weight_decay and self.decoupled:
                p *= 1.0 - self.lr * self.weight_decay      # AdamW: decay the weights directly
            elif self.weight_decay:
                g = g + self.weight_decay * p               # Adam: L2 through the gradient
            gs[k] = g
        ps, gl, ms, vs = ([d[k] for k in self.params] for d in (self.params, gs, self.m, self.v))
        fused = compiled_passes(ps, gl, ms, vs)
        if fused is not None:              # the lines below for every array in one compiled call, bitwise equal
            fused.adam_update(ps, gl, ms, vs, self.lr, self.b1, self.b2, c1, c2, self.eps)
            return
        for k, p in self.params.items():
            g = gs[k]
            self.m[k] = self.b1 * self.m[k] + (1.0 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1.0 - self.b2) * g * g
            xp = get_array_module(p)
            p -= self.lr * (self.m[k] / c1) / (xp.sqrt(self.v[k] / c2) + self.eps)


def compile_ahead(params):
    """On a cold first run, have the compiled Adam and moving-average passes for ``params`` (a dict of arrays) built
    while ``kernels.compile_ahead``'s helper builds the LSTM's backward, instead of after it
    (``compile_ahead.meanwhile``; nothing happens when those passes do not apply or no helper starts)."""
    arrays = list(params.values())
    fused = compiled_passes(arrays)
    if fused is not None:
        from .kernels import compile_ahead as ahead
        ahead.meanwhile(lambda: fused.compile_for(arrays))


def compiled_passes(*columns):
    """``minilstm.kernels.numba_optim`` when its compiled passes apply, else None (the NumPy lines run).

    columns: sequences of arrays that go together element by element (e.g. the params, their gradients and
    Adam's two moments): they apply when Numba is present, all the arrays are NumPy arrays of one float dtype,
    C-contiguous, and the k-th arrays of every column have one shape (the compiled passes read them as flat
    arrays of that length, unchecked). MINILSTM_NUMPY_OPTIM=1 forces the NumPy lines."""
    if not numba_available or os.environ.get("MINILSTM_NUMPY_OPTIM") or not columns or not columns[0]:
        return None
    dt = getattr(columns[0][0], "dtype", None)
    if dt is None or dt.kind != "f" or dt.itemsize < 4 or any(len(c) != len(columns[0]) for c in columns):
        return None
    for row in zip(*columns):
        shape = getattr(row[0], "shape", None)
        if not all(type(a) is np.ndarray and a.dtype == dt and a.shape == shape and a.flags.c_contiguous
                   for a in row):
            return None
    from .kernels import numba_optim
    return numba_optim


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * wd`` before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
