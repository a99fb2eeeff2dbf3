"""Optimizers and gradient clipping. None of these live inside backward, so a
gradient check always sees the true gradient.

An optimizer updates a dict of parameter arrays in place from a dict of
gradients with the same keys: ``opt = Adam(model.params, lr=1e-3); opt.step(grads)``.
"""
import math
import numbers

from .backend import get_array_module
from .errors import ConfigError


def global_norm(grads):
    """sqrt(sum over all arrays of sum(g**2)) as a Python float."""
    return math.sqrt(sum(float((g * g).sum()) for g in grads.values()))


def clip_grad_norm(grads, max_norm):
    """Global-norm clipping: if ||g|| > max_norm, scale every gradient by max_norm / ||g||.

    Returns (clipped, total_norm): a NEW dict (the input is not modified) and the norm before clipping.
    """
    total = global_norm(grads)
    if max_norm is None or not math.isfinite(total) or total <= max_norm:
        return dict(grads), total
    scale = max_norm / (total + 1e-12)
    return {k: g * scale for k, g in grads.items()}, total


class Optimizer:
    def __init__(self, params, lr):
        if isinstance(lr, bool) or not (isinstance(lr, numbers.Real) and lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"learning rate must be a positive number, got {lr!r}.")
        self.params, self.lr, self.t = params, float(lr), 0

    def _zeros(self):
        return {k: get_array_module(p).zeros_like(p) for k, p in self.params.items()}

    def state_dict(self):
        return {"t": self.t, "lr": self.lr}


class SGD(Optimizer):
    """v = momentum * v + (g + wd * p);  p -= lr * v  (PyTorch's SGD without dampening)."""

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.v = self._zeros()

    def step(self, grads):
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
        self.b1, self.b2 = map(float, betas)
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        self.m, self.v = self._zeros(), self._zeros()

    def step(self, grads):
        self.t += 1
        c1, c2 = 1.0 - self.b1 ** self.t, 1.0 - self.b2 ** self.t
        for k, p in self.params.items():
            g = grads[k]
            if self.weight_decay and self.decoupled:
                p *= 1.0 - self.lr * self.weight_decay      # AdamW: decay the weights directly
            elif self.weight_decay:
                g = g + self.weight_decay * p               # Adam: L2 through the gradient
            self.m[k] = self.b1 * self.m[k] + (1.0 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1.0 - self.b2) * g * g
            xp = get_array_module(p)
            p -= self.lr * (self.m[k] / c1) / (xp.sqrt(self.v[k] / c2) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * wd before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
