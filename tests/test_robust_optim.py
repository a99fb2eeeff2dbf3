"""Hostile optimizer settings and gradient dicts: refused before any parameter changes."""
import numpy as np
import pytest

from minilstm.errors import ConfigError, InputTypeError, MiniLSTMError, ShapeError
from minilstm.optim import SGD, Adam, AdamW, clip_grad_norm


def params():
    return {"w": np.array([1.0, -2.0, 0.5]), "b": np.array([0.1])}


def grads(**change):
    g = {"w": np.array([0.3, 0.1, -0.2]), "b": np.array([1.0])}
    g.update(change)
    return {k: v for k, v in g.items() if v is not None}


CASES = [
    ("Adam betas (1, 1)", lambda: Adam(params(), betas=(1, 1)), ConfigError, ["beta1", "< 1"]),
    ("Adam beta2 = 1", lambda: Adam(params(), betas=(0.9, 1.0)), ConfigError, ["beta2"]),
    ("Adam negative beta", lambda: Adam(params(), betas=(-0.1, 0.9)), ConfigError, ["beta1", ">= 0"]),
    ("Adam betas of length 3", lambda: Adam(params(), betas=(0.9, 0.99, 0.9)), ConfigError, ["betas", "pair"]),
    ("Adam betas a number", lambda: Adam(params(), betas=0.9), ConfigError, ["betas"]),
    ("Adam eps negative", lambda: Adam(params(), eps=-1e-8), ConfigError, ["eps", "> 0"]),
    ("Adam eps zero", lambda: Adam(params(), eps=0.0), ConfigError, ["eps"]),
    ("Adam eps NaN", lambda: Adam(params(), eps=float("nan")), ConfigError, ["eps", "finite"]),
    ("Adam weight_decay negative", lambda: Adam(params(), weight_decay=-0.1), ConfigError, ["weight_decay", ">= 0"]),
    ("AdamW weight_decay inf", lambda: AdamW(params(), weight_decay=float("inf")), ConfigError,
     ["weight_decay", "finite"]),
    ("lr zero", lambda: Adam(params(), lr=0.0), ConfigError, ["learning rate", "> 0"]),
    ("lr inf", lambda: SGD(params(), lr=float("inf")), ConfigError, ["learning rate", "finite"]),
    ("lr a string", lambda: SGD(params(), lr="0.1"), ConfigError, ["learning rate", "number"]),
    ("lr a bool", lambda: SGD(params(), lr=True), ConfigError, ["learning rate"]),
    ("SGD momentum negative", lambda: SGD(params(), momentum=-0.5), ConfigError, ["momentum", ">= 0"]),
    ("SGD momentum 1", lambda: SGD(params(), momentum=1.0), ConfigError, ["momentum", "< 1"]),
    ("SGD weight_decay NaN", lambda: SGD(params(), weight_decay=float("nan")), ConfigError, ["weight_decay"]),
    ("empty params", lambda: Adam({}), ConfigError, ["params is empty"]),
    ("params a list", lambda: Adam([np.zeros(3)]), InputTypeError, ["params", "dict"]),
    ("integer params", lambda: Adam({"w": np.zeros(3, int)}), InputTypeError, ["params['w']", "int64"]),
    ("grads missing a key", lambda: Adam(params()).step(grads(b=None)), ShapeError, ["missing ['b']"]),
    ("grads with an extra key", lambda: SGD(params()).step(grads(v=np.zeros(3))), ShapeError,
     ["unexpected ['v']"]),
    ("grads of the wrong shape", lambda: Adam(params()).step(grads(w=np.zeros(4))), ShapeError,
     ["grads['w']", "(3,)", "(4,)"]),
    ("grads broadcastable", lambda: Adam(params()).step(grads(w=np.zeros(1))), ShapeError, ["grads['w']"]),
    ("grads complex", lambda: SGD(params()).step(grads(w=np.zeros(3, complex))), InputTypeError,
     ["grads['w']", "complex"]),
    ("grads a list", lambda: SGD(params()).step([np.zeros(3), np.zeros(1)]), InputTypeError, ["grads", "dict"]),
    ("clip negative max_norm", lambda: clip_grad_norm(grads(), -1.0), ConfigError, ["max_norm", "> 0"]),
    ("clip zero max_norm", lambda: clip_grad_norm(grads(), 0), ConfigError, ["max_norm"]),
    ("clip inf max_norm", lambda: clip_grad_norm(grads(), float("inf")), ConfigError, ["max_norm", "finite"]),
    ("clip string max_norm", lambda: clip_grad_norm(grads(), "1"), ConfigError, ["max_norm"]),
    ("clip grads of strings", lambda: clip_grad_norm({"w": np.array(["a"])}, 1.0), InputTypeError, ["grads['w']"]),
]


@pytest.mark.parametrize("name,action,exc,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_optimizer_input(name, action, exc, words):
    with pytest.raises(exc) as e:
        action()
    assert isinstance(e.value, MiniLSTMError)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


@pytest.mark.parametrize("make", [lambda p: SGD(p, momentum=0.9), lambda p: Adam(p), lambda p: AdamW(p)])
def test_a_refused_step_changes_nothing(make):
    p = params()
    before = {k: v.copy() for k, v in p.items()}
    opt = make(p)
    with pytest.raises(ShapeError):
        opt.step(grads(w=np.zeros(4)))
    assert opt.t == 0
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])
    opt.step(grads())                              # and the optimizer still works
    assert opt.t == 1 and not np.array_equal(p["w"], before["w"])


def test_clip_none_means_no_clipping_and_nonfinite_norm_is_reported():
    g = grads(w=np.array([3.0, 4.0, 0.0]))
    out, n = clip_grad_norm(g, None)
    assert out["w"] is g["w"] and n > 5
    out, n = clip_grad_norm(grads(w=np.array([np.inf, 0.0, 0.0])), 1.0)
    assert not np.isfinite(n)


def test_edge_values_that_are_valid():
    Adam(params(), betas=(0.0, 0.0), eps=1e-300, weight_decay=0.0).step(grads())
    SGD(params(), momentum=0.0, lr=np.float32(0.1)).step(grads())
