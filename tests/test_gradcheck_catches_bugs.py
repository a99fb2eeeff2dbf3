"""The gradient checker must fail on wrong gradients: plant typical bugs in copies of the backward."""
import inspect

import numpy as np
import pytest
from conftest import random_params

from minilstm import core
from minilstm.gradcheck import check_function, directional_check, numerical_gradient, rel_error

SOURCE = inspect.getsource(core.lstm).replace("from ..", "from minilstm.").replace("from .", "from minilstm.core.")

BUGS = {
    "dropped carried dc": ("dC = dc_next + dh * o_t", "dC = dh * o_t"),
    "= instead of += for the carried dh": ("else dh_tm[t] + dh_next", "else dh_tm[t]"),
    "swapped i and f gates": ("gate_slices(H)\n    f_t, i_t, c_tilde, o_t = gates[:, F], gates[:, I]",
                              "gate_slices(H)\n    f_t, i_t, c_tilde, o_t = gates[:, I], gates[:, F]"),
    "missing tanh' factor": ("dh * o_t * (1.0 - tanh_c * tanh_c)", "dh * o_t"),
    "bias gradient summed over the wrong axis": ('"b": da2.sum(axis=0)', '"b": da.sum(axis=1).sum(axis=0)[:0]'),
    "o gate using C_{t-1}": ("do = dh * tanh_c", "do = dh * xp.tanh(c_prev)"),
    "off-by-one in the time loop": ("for t in reversed(range(T)):", "for t in reversed(range(T - 1)):"),
    "off-by-one state index (C_t for C_{t-1})": ("gates[t], cs[t], tanh_c[t]", "gates[t], cs[t + 1], tanh_c[t]"),
    "transposed weight gradient": ('"W_h": hs[:-1].reshape(T * B, H).T @ da2',
                                   '"W_h": (da2.T @ hs[:-1].reshape(T * B, H)).reshape(H, 4 * H)'),
    "bias gradient over batch only": ('"b": da2.sum(axis=0)', '"b": da[-1].sum(axis=0)'),
}


def load_variant(old=None, new=None):
    src = SOURCE
    if old is not None:
        assert src.count(old) == 1, f"planted-bug anchor not found once in core/lstm.py: {old!r}"
        src = src.replace(old, new)
    ns = {}
    exec(compile(src, "core_variant.py", "exec"), ns)
    return ns


def check_sequence(ns, seed=0, B=2, T=5, D=3, H=4):
    rng = np.random.default_rng(seed)
    inputs = dict(x=rng.standard_normal((B, T, D)), h0=rng.standard_normal((B, H)), c0=rng.standard_normal((B, H)),
                  **random_params(rng, D, H))

    def fwd(x, h0, c0, W_x, W_h, b):
        h_seq, (hT, cT), _ = core.lstm_forward(x, h0, c0, {"W_x": W_x, "W_h": W_h, "b": b})
        return h_seq, hT, cT

    def bwd(G, GhT, GcT):
        p = {k: inputs[k] for k in ("W_x", "W_h", "b")}
        _, _, cache = ns["lstm_forward"](inputs["x"], inputs["h0"], inputs["c0"], p)
        dx, dh0, dc0, dp = ns["lstm_backward"](G, GhT, GcT, cache)
        return {"x": dx, "h0": dh0, "c0": dc0, **dp}

    return check_function(fwd, bwd, inputs, tol=1e-6, seed=seed)


def test_unmodified_copy_passes():
    report = check_sequence(load_variant())
    assert report.passed, str(report)


@pytest.mark.parametrize("bug", list(BUGS))
def test_planted_bug_is_reported(bug):
    report = check_sequence(load_variant(*BUGS[bug]))
    assert not report.passed, f"checker missed: {bug}\n{report}"
    assert "FAIL" in str(report)


@pytest.mark.parametrize("bug", ["dropped carried dc", "swapped i and f gates", "missing tanh' factor",
                                 "o gate using C_{t-1}"])
def test_step_backward_bugs_are_reported(bug):
    ns = load_variant(*BUGS[bug])
    rng = np.random.default_rng(1)
    p = random_params(rng, 3, 4)
    inputs = dict(x=rng.standard_normal((2, 3)), h=rng.standard_normal((2, 4)), c=rng.standard_normal((2, 4)), **p)

    def fwd(x, h, c, W_x, W_h, b):
        return core.lstm_step_forward(x, h, c, {"W_x": W_x, "W_h": W_h, "b": b})[:2]

    def bwd(dh, dc):
        cache = ns["lstm_step_forward"](inputs["x"], inputs["h"], inputs["c"], p)[2]
        dx, dhp, dcp, dp = ns["lstm_step_backward"](dh, dc, cache)
        return {"x": dx, "h": dhp, "c": dcp, **dp}

    assert not check_function(fwd, bwd, inputs).passed


def test_directional_check_passes_and_fails():
    rng = np.random.default_rng(2)
    p = random_params(rng, 3, 5)
    x, h0, c0 = rng.standard_normal((3, 6, 3)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    G = rng.standard_normal((3, 6, 5))

    def loss(params):
        return float((core.lstm_forward(x, h0, c0, params)[0] * G).sum())

    grads = core.lstm_backward(G, None, None, core.lstm_forward(x, h0, c0, p)[2])[3]
    assert directional_check(loss, p, grads) < 1e-8
    ns = load_variant(*BUGS["dropped carried dc"])
    bad = ns["lstm_backward"](G, None, None, ns["lstm_forward"](x, h0, c0, p)[2])[3]
    assert directional_check(loss, p, bad) > 1e-4


def test_rel_error_and_numerical_gradient_basics():
    assert rel_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert rel_error(np.array([0.0]), np.array([0.0])) == 0.0
    assert rel_error(np.zeros(2), np.zeros(3)) == float("inf")
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    x = np.array([1.0, -2.0, 3.0])
    xc = x.copy()
    g = numerical_gradient(lambda v: float((v ** 3).sum()), x)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, xc)
    g4 = numerical_gradient(lambda v: float((v ** 3).sum()), x, h=1e-3, order=4)
    np.testing.assert_allclose(g4, 3 * x ** 2, rtol=1e-10)
