"""The gradient checker refuses what it cannot check, and its upstream-gradient option works."""
import numpy as np
import pytest

import minilstm
from minilstm.errors import ConfigError, DataError, InputTypeError, MiniLSTMError, ShapeError
from minilstm.gradcheck import (
    GradCheckReport,
    check_function,
    check_layer,
    directional_check,
    numerical_gradient,
    rel_error,
)

X = np.random.default_rng(0).standard_normal((2, 3, 2))


def layer(**kw):
    return minilstm.LSTM(2, 3, kernels="numpy", **kw)


def square(x):
    return x * x


def square_grad(G):
    return {"x": 2 * X2 * G}


X2 = np.array([0.5, -1.0, 2.0])
WRONG = {"w": np.array([-3000, 1000, 2000])}   # wrong sign and 1000x the size


CASES = [
    ("directional_check with integer params",
     lambda: directional_check(lambda p: float((p["w"] ** 2).sum()), {"w": np.array([1, 2, 3])}, WRONG),
     InputTypeError, ["params['w']", "int64", "float"]),
    ("directional_check with float16 params",
     lambda: directional_check(lambda p: 0.0, {"w": np.ones(3, np.float16)}, {"w": np.ones(3)}), InputTypeError,
     ["float16"]),
    ("directional_check grads of another shape",
     lambda: directional_check(lambda p: 0.0, {"w": np.ones(3)}, {"w": np.ones(4)}), ShapeError, ["grads['w']"]),
    ("directional_check missing grads key",
     lambda: directional_check(lambda p: 0.0, {"w": np.ones(3), "b": np.ones(1)}, {"w": np.ones(3)}), ShapeError,
     ["missing ['b']"]),
    ("directional_check NaN params",
     lambda: directional_check(lambda p: 0.0, {"w": np.array([np.nan])}, {"w": np.ones(1)}), DataError, ["NaN"]),
    ("directional_check negative eps",
     lambda: directional_check(lambda p: 0.0, {"w": np.ones(3)}, {"w": np.ones(3)}, eps=-1e-5), ConfigError, ["eps"]),
    ("directional_check non-finite loss",
     lambda: directional_check(lambda p: float("nan"), {"w": np.ones(3)}, {"w": np.ones(3)}), DataError,
     ["loss_fn", "non-finite"]),
    ("directional_check empty params", lambda: directional_check(lambda p: 0.0, {}, {}), InputTypeError,
     ["non-empty"]),
    ("directional_check loss not callable", lambda: directional_check(3.0, {"w": np.ones(3)}, {"w": np.ones(3)}),
     InputTypeError, ["loss_fn"]),
    ("check_layer loss_on typo", lambda: check_layer(layer(), X, loss_on="al"), ConfigError,
     ["loss_on", "'all'", "'last'", "'al'"]),
    ("check_layer upstream typo", lambda: check_layer(layer(), X, upstream="one"), ConfigError,
     ["upstream", "'random'", "'ones'"]),
    ("check_layer upstream of the wrong shape", lambda: check_layer(layer(), X, upstream=np.ones((2, 3))),
     ShapeError, ["upstream[0]", "(2, 3, 3)"]),
    ("check_layer upstream for 'last' of the 'all' shape",
     lambda: check_layer(layer(), X, loss_on="last", upstream=np.ones((2, 3, 3))), ShapeError, ["upstream[0]"]),
    ("check_layer NaN x", lambda: check_layer(layer(), np.full((1, 2, 2), np.nan)), DataError, ["x", "NaN"]),
    ("check_layer complex x", lambda: check_layer(layer(), np.ones((1, 2, 2), complex)), InputTypeError, ["x"]),
    ("check_layer 2-D x", lambda: check_layer(layer(), np.ones((2, 2))), ShapeError, ["x", "3 dimensions"]),
    ("check_layer of a non-layer", lambda: check_layer(object(), X), InputTypeError, ["minilstm.LSTM"]),
    ("check_layer float32 layer", lambda: check_layer(layer(dtype=np.float32), X), ConfigError, ["float64"]),
    ("check_layer h = 0", lambda: check_layer(layer(), X, h=0), ConfigError, ["h", "> 0"]),
    ("check_function order 3", lambda: check_function(square, square_grad, {"x": X2}, order=3), ConfigError,
     ["order", "2", "4"]),
    ("check_function tol negative", lambda: check_function(square, square_grad, {"x": X2}, tol=-1), ConfigError,
     ["tol"]),
    ("check_function NaN input", lambda: check_function(square, square_grad, {"x": np.array([np.nan])}), DataError,
     ["inputs['x']", "NaN"]),
    ("check_function string input", lambda: check_function(square, square_grad, {"x": np.array(["a"])}),
     InputTypeError, ["inputs['x']"]),
    ("check_function empty inputs", lambda: check_function(square, square_grad, {}), InputTypeError, ["non-empty"]),
    ("check_function backward returns a tuple", lambda: check_function(square, lambda G: (2 * X2 * G,), {"x": X2}),
     InputTypeError, ["backward", "dict"]),
    ("check_function forward returns None", lambda: check_function(lambda x: None, square_grad, {"x": X2}),
     ShapeError, ["forward"]),
    ("check_function upstream count", lambda: check_function(square, square_grad, {"x": X2},
                                                             upstream=(np.ones(3), np.ones(3))), ShapeError,
     ["one array per output"]),
    ("check_function seed a float", lambda: check_function(square, square_grad, {"x": X2}, seed=0.5), ConfigError,
     ["seed"]),
    ("numerical_gradient order 1", lambda: numerical_gradient(lambda v: 0.0, X2, order=1), ConfigError, ["order"]),
    ("numerical_gradient negative h", lambda: numerical_gradient(lambda v: 0.0, X2, h=-1e-5), ConfigError, ["h"]),
    ("numerical_gradient Inf x", lambda: numerical_gradient(lambda v: 0.0, np.array([np.inf])), DataError, ["x"]),
    ("rel_error of strings", lambda: rel_error(np.array(["a"]), np.array(["b"])), InputTypeError, ["analytic"]),
    ("report with tol 0", lambda: GradCheckReport("t", 0), ConfigError, ["tol"]),
]


@pytest.mark.parametrize("name,action,exc,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_gradcheck_input(name, action, exc, words):
    with pytest.raises(exc) as e:
        action()
    assert isinstance(e.value, MiniLSTMError)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


def test_directional_check_catches_a_wrong_gradient_in_float64():
    p = {"w": np.array([1.0, 2.0, 3.0])}
    loss = lambda q: float((q["w"] ** 2).sum())  # noqa: E731
    assert directional_check(loss, p, {"w": 2 * p["w"]}) < 1e-8
    assert directional_check(loss, p, {k: v.astype(float) for k, v in WRONG.items()}) > 0.5


def test_upstream_ones_is_the_sum_of_the_outputs():
    """With upstream='ones' the checker hands backward all-ones gradients (L = sum of outputs)."""
    seen = []

    def bwd(G):
        seen.append(G)
        return square_grad(G)

    assert check_function(square, bwd, {"x": X2}, upstream="ones").passed
    np.testing.assert_array_equal(seen[-1], np.ones(3))
    assert check_function(square, bwd, {"x": X2}).passed
    assert not np.all(seen[-1] == 1.0)                       # the default is random
    G = np.array([1.0, -2.0, 0.5])
    assert check_function(square, bwd, {"x": X2}, upstream=G).passed
    np.testing.assert_array_equal(seen[-1], G)


def test_upstream_ones_can_hide_what_random_catches():
    """A backward that swaps two entries of a symmetric-sum gradient passes with ones, fails with random."""
    def fwd(x):
        return np.stack([x[0] + x[1], x[0] + x[1]])

    def swapped(G):                                           # true dL/dx = (G0 + G1, G0 + G1)
        return {"x": np.array([2 * G[0], 2 * G[1]])}
    x = {"x": np.array([0.3, -0.7])}
    assert check_function(fwd, swapped, x, upstream="ones").passed
    assert not check_function(fwd, swapped, x, upstream="random").passed


@pytest.mark.parametrize("loss_on", ["all", "last"])
def test_check_layer_with_upstream_ones_passes_on_the_correct_engine(loss_on):
    report = check_layer(layer(num_layers=2), X, loss_on=loss_on, upstream="ones")
    assert report.passed, str(report)
