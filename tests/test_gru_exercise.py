"""The GRU backward exercise: the checker passes a correct solution, fails the stub politely, and names each
typical mistake with its own hint."""
import numpy as np
import pytest

from minilstm import gru
from minilstm.exercises import check_gru_step_backward, stubs


def sig_prime(s):
    return s * (1 - s)


def solution_factory(kind=None):
    """A learner's gru_step_backward, written from the equations, with the mistake ``kind`` planted."""
    def gru_step_backward(dh_t, cache):
        x_t, h_prev, gates, hn, params = cache
        H = h_prev.shape[1]
        r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        if kind == "swap":
            r, z = z, r
        dn = dh_t if kind == "no_one_minus_z" else dh_t * (1 - z)
        dz = dh_t * (h_prev - n) if kind != "sign" else dh_t * (n - h_prev)
        da_n = dn * (1 - n * n) if kind != "no_tanh_prime" else dn
        sp = (lambda s: 1 - s * s) if kind == "tanh_prime_for_gates" else sig_prime
        hn_used = h_prev @ params["W_h"][:, 2 * H:] if kind == "no_b_hn_in_dr" else hn
        da_r = da_n * hn_used * sp(r)
        da_z = dz * sp(z)
        da_x = np.concatenate([da_r, da_z, da_n], axis=1)
        da_h = np.concatenate([da_r, da_z, da_n if kind == "h_side_no_r" else da_n * r], axis=1)
        dh_prev = da_h @ params["W_h"].T + (0 if kind == "no_carry" else dh_t * z)
        grads = {"W_x": x_t.T @ da_x, "W_h": h_prev.T @ da_h, "b_x": da_x.sum(axis=0),
                 "b_h": da_x.sum(axis=0) if kind == "merged_bias_grad" else da_h.sum(axis=0)}
        if kind == "one_bias":
            grads["b"] = grads.pop("b_x") + grads.pop("b_h")
        if kind == "db_keepdims":
            grads["b_x"] = da_x.sum(axis=0, keepdims=True)
        return da_x @ params["W_x"].T, dh_prev, grads
    return gru_step_backward


def test_correct_solutions_pass_and_the_stub_fails_politely():
    for fn in (solution_factory(), gru.gru_step_backward):
        for seed in (0, 1):
            fb = check_gru_step_backward(fn, seed=seed)
            assert fb.passed and fb.mistake is None, str(fb)
    fb = check_gru_step_backward(stubs.gru_step_backward)
    assert not fb.passed and "not implemented" in fb.message


@pytest.mark.parametrize("kind,mistake,words", [
    ("no_one_minus_z", "missing_one_minus_z", "(1 - z_t)"),
    ("no_carry", "dropped_z_carry", "direct path"),
    ("sign", "dz_sign", "wrong sign"),
    ("swap", "swapped_r_z", "swapped"),
    ("no_tanh_prime", "missing_tanh_prime", "tanh's derivative"),
    ("tanh_prime_for_gates", "sigmoid_prime_as_tanh", "s * (1 - s)"),
    ("h_side_no_r", "h_side_without_r", "missing r_t"),
    ("merged_bias_grad", "b_hn_without_r", "b_hn sits inside"),
    ("no_b_hn_in_dr", "reset_outside_bias", "without b_hn"),
])
def test_each_typical_mistake_is_named(kind, mistake, words):
    fb = check_gru_step_backward(solution_factory(kind))
    assert not fb.passed and fb.mistake == mistake, str(fb)
    assert words in fb.message, fb.message
    assert "FAIL" in fb.details


def test_structure_mistakes_are_named_before_the_gradient_check():
    fb = check_gru_step_backward(solution_factory("one_bias"))
    assert fb.mistake == "param_keys" and "two biases" in fb.message
    fb = check_gru_step_backward(solution_factory("db_keepdims"))
    assert fb.mistake == "shape" and "db_x" in fb.message
    fb = check_gru_step_backward(lambda dh, cache: (dh, dh))
    assert fb.mistake == "return_value"
    fb = check_gru_step_backward(lambda dh, cache: 1 / 0)
    assert fb.mistake == "error" and "ZeroDivisionError" in fb.message
