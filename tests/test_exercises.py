"""Each checker passes the reference solution and rejects typical mistakes with the right hint."""
import os
import sys

import numpy as np
import pytest

from minilstm.exercises import check_bptt, check_clip_grad_norm, check_step_backward, check_step_forward, stubs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tutorials", "solutions"))
import lstm_solutions as S  # noqa: E402

sig = S.sigmoid


def split(a, H):
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]


def test_reference_solutions_pass_and_stubs_fail_politely():
    for check, fn in ((check_step_forward, S.lstm_step_forward), (check_step_backward, S.lstm_step_backward),
                      (check_bptt, S.lstm_backward), (check_clip_grad_norm, S.clip_grad_norm)):
        fb = check(fn)
        assert fb.passed and fb.mistake is None, str(fb)
    for check, fn in ((check_step_forward, stubs.lstm_step_forward), (check_step_backward, stubs.lstm_step_backward),
                      (check_bptt, stubs.lstm_backward), (check_clip_grad_norm, stubs.clip_grad_norm)):
        fb = check(fn)
        assert not fb.passed and "not implemented" in fb.message


# ---- forward mistakes -----------------------------------------------------------------------

def fwd_factory(kind):
    def fwd(x_t, h_prev, c_prev, params):
        H = h_prev.shape[1]
        a = x_t @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
        if kind == "shape":
            a = a.T
            return a[:H], a[:H], None
        if kind == "torch_order":
            i, f, g, o = split(a, H)
        else:
            f, i, g, o = split(a, H)
        f, i, o = sig(f), sig(i), sig(o)
        g = sig(g) if kind == "sigmoid_candidate" else np.tanh(g)
        C = (c_prev if kind == "no_forget" else f * c_prev) + i * g
        h = o * C if kind == "no_tanh" else o * np.tanh(c_prev if kind == "old_cell" else C)
        return h, C, (x_t, h_prev, c_prev, np.concatenate([f, i, g, o], 1), np.tanh(C), params)
    return fwd


@pytest.mark.parametrize("kind,mistake,words", [
    ("torch_order", "swapped_i_f", "swapped"),
    ("sigmoid_candidate", "candidate_sigmoid", "tanh"),
    ("no_forget", "no_forget_gate", "forget gate"),
    ("no_tanh", "h_missing_tanh", "missing the tanh"),
    ("old_cell", "h_uses_prev_cell", "NEW cell state"),
    ("shape", "shape", "shape"),
])
def test_forward_mistakes(kind, mistake, words):
    fb = check_step_forward(fwd_factory(kind))
    assert not fb.passed and fb.mistake == mistake and words in fb.message, str(fb)


# ---- step backward mistakes -----------------------------------------------------------------

def bwd_factory(kind):
    def bwd(dh_t, dc_t, cache):
        x_t, h_prev, c_prev, gates, tanh_c, params = cache
        H = dh_t.shape[1]
        f, i, g, o = split(gates, H)
        if kind == "swap":
            f, i = i, f
        dC = (0 if kind == "no_dc" else dc_t) + dh_t * o * (1 if kind == "no_tanh_prime" else (1 - tanh_c ** 2))
        da = np.concatenate([dC * c_prev * f * (1 - f), dC * g * i * (1 - i), dC * i * (1 - g ** 2),
                             dh_t * tanh_c * o * (1 - o)], 1)
        dW_h = h_prev.T @ da
        db = da.sum(axis=1) if kind == "axis" else da.sum(axis=0)
        dc_prev = dC if kind == "no_f" else dC * f
        return da @ params["W_x"].T, da @ params["W_h"].T, dc_prev, {"W_x": x_t.T @ da, "W_h": dW_h, "b": db}
    return bwd


@pytest.mark.parametrize("kind,mistake,words", [
    ("no_f", "dc_prev_missing_forget_gate", "your dc_prev is missing the forget gate factor"),
    ("no_dc", "dropped_dc_t", "dc_t is dropped"),
    ("no_tanh_prime", "missing_tanh_prime", "tanh's derivative"),
    ("swap", "swapped_i_f", "swapped"),
    ("axis", "db_wrong_axis", "wrong axis"),
])
def test_step_backward_mistakes(kind, mistake, words):
    fb = check_step_backward(bwd_factory(kind))
    assert not fb.passed and fb.mistake == mistake and words in fb.message, str(fb)
    assert "FAIL" in fb.details or mistake == "db_wrong_axis"


# ---- BPTT mistakes --------------------------------------------------------------------------

def bptt_factory(kind):
    def bptt(dh_seq, dh_T, dc_T, cache):
        x_tm, hs, cs, gates, tanh_c, params = (cache[k] for k in ("x_tm", "hs", "cs", "gates", "tanh_c", "params"))
        T, B, D = x_tm.shape
        dx = np.zeros((B, T, D))
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        dh_next, dc_next = dh_T.copy(), dc_T.copy()
        steps = range(T) if kind == "forward" else reversed(range(T))
        for t in steps:
            h_prev = hs[t + 1] if kind == "off_by_one" else hs[t]
            dh = dh_seq[:, t] if kind == "no_dh" else dh_seq[:, t] + dh_next
            dc_in = {"no_dc": np.zeros_like(dc_next), "dc_T_every_step": dc_T,
                     "dc_T_last_only": dc_T if t == T - 1 else np.zeros_like(dc_T)}.get(kind, dc_next)
            dx[:, t], dh_next, dc_prev, g = S.lstm_step_backward(dh, dc_in,
                                                                 (x_tm[t], h_prev, cs[t], gates[t], tanh_c[t], params))
            dc_next = dc_prev
            for k in grads:
                if kind == "assign":
                    grads[k] = g[k]
                else:
                    grads[k] += g[k]
        return dx, dh_next, dc_next, grads
    return bptt


@pytest.mark.parametrize("kind,mistake,words", [
    ("no_dh", "dropped_carried_dh", "carried dh is dropped"),
    ("no_dc", "dropped_carried_dc", "carried dc is dropped"),
    ("dc_T_every_step", "dc_never_carried", "carried dc is dropped"),     # dc_next never updated
    ("dc_T_last_only", "dc_only_at_last_step", "carried dc is dropped"),  # dc_T in, nothing carried after
    ("assign", "assign_not_accumulate", "+="),
    ("off_by_one", "off_by_one_h_prev", "off by one"),
    ("forward", "forward_time_order", "T-1 down to 0"),
])
def test_bptt_mistakes(kind, mistake, words):
    fb = check_bptt(bptt_factory(kind))
    assert not fb.passed and fb.mistake == mistake and words in fb.message, str(fb)


# ---- clipping mistakes ----------------------------------------------------------------------

def clip_per_tensor(grads, max_norm):
    out = {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}
    return out, float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))


def clip_always(grads, max_norm):
    n = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    return {k: g * max_norm / n for k, g in grads.items()}, n


def clip_no_sqrt(grads, max_norm):
    n = float(sum((g ** 2).sum() for g in grads.values()))
    return {k: g * (max_norm / n if n > max_norm else 1.0) for k, g in grads.items()}, n


def clip_sum_norms(grads, max_norm):
    n = sum(float(np.linalg.norm(g)) for g in grads.values())
    return {k: g * (max_norm / n if n > max_norm else 1.0) for k, g in grads.items()}, n


def clip_in_place(grads, max_norm):
    n = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    if n > max_norm:
        for g in grads.values():
            g *= max_norm / n
    return grads, n


def clip_returns_clipped_norm(grads, max_norm):
    out, n = S.clip_grad_norm(grads, max_norm)
    return out, min(n, max_norm)


@pytest.mark.parametrize("fn,mistake", [
    (clip_per_tensor, "per_tensor"), (clip_always, "always_scales"), (clip_no_sqrt, "sum_of_squares"),
    (clip_sum_norms, "sum_of_norms"), (clip_in_place, "mutates_input"),
    (clip_returns_clipped_norm, "clipped_norm_returned"),
])
def test_clip_mistakes(fn, mistake):
    fb = check_clip_grad_norm(fn)
    assert not fb.passed and fb.mistake == mistake, str(fb)


# ---- the mistakes whose hints used to name something else ----------------------------------

def test_a_crash_shows_the_learners_full_traceback():
    def crashing_forward(x_t, h_prev, c_prev, params):
        return helper_that_fails(x_t, params)

    def helper_that_fails(x_t, params):
        return x_t @ params["W_h"]                                  # (B, D) @ (H, 4H): D != H

    fb = check_step_forward(crashing_forward)
    assert not fb.passed and fb.mistake == "error" and "ValueError" in fb.message
    assert "Traceback (most recent call last)" in fb.details
    assert "crashing_forward" in fb.details and "helper_that_fails" in fb.details      # every frame of theirs
    assert 'x_t @ params["W_h"]' in fb.details and "_call" not in fb.details           # their line, not ours
    assert fb.details in str(fb)


def test_db_with_keepdims_is_named_as_keepdims():
    fb = check_step_backward(lambda dh, dc, cache: (lambda r: (*r[:3], {**r[3], "b": r[3]["b"][None]}))(
        S.lstm_step_backward(dh, dc, cache)))
    assert not fb.passed and fb.mistake == "db_keepdims", str(fb)
    assert "keepdims" in fb.message and "(1, 20)" in fb.message and "(20,)" in fb.message
    assert "wrong axis" not in fb.message


@pytest.mark.parametrize("check,solution", [(check_step_backward, S.lstm_step_backward), (check_bptt, S.lstm_backward)])
def test_gradient_keys_named_dW_x_get_the_expected_keys(check, solution):
    def renamed(*args):
        *arrays, dp = solution(*args)
        return (*arrays, {"d" + k: v for k, v in dp.items()})

    fb = check(renamed)
    assert not fb.passed and fb.mistake == "param_keys", str(fb)
    assert "'W_x', 'W_h', 'b'" in fb.message and "'dW_x'" in fb.message and "'d' prefix" in fb.message
    assert "shape" not in fb.message


def test_bptt_dx_returned_time_first_is_named():
    fb = check_bptt(lambda *a: (lambda r: (r[0].transpose(1, 0, 2), *r[1:]))(S.lstm_backward(*a)))
    assert not fb.passed and fb.mistake == "dx_time_first" and "batch-first" in fb.message, str(fb)


def test_pytorch_style_epsilon_in_the_clipping_factor_is_explained():
    def clip_like_torch(grads, max_norm):
        n = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
        factor = min(1.0, max_norm / (n + 1e-6))
        return {k: g * factor for k, g in grads.items()}, n

    fb = check_clip_grad_norm(clip_like_torch)
    assert not fb.passed and fb.mistake == "epsilon_in_factor", str(fb)
    assert "epsilon" in fb.message and "max_norm / norm" in fb.message
    assert "should be multiplied" not in fb.message


def test_clipping_with_another_factor_says_which_factor_was_used():
    def clip_half(grads, max_norm):
        n = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
        return {k: g * (0.5 if n > max_norm else 1.0) for k, g in grads.items()}, n

    fb = check_clip_grad_norm(clip_half)
    assert not fb.passed and fb.mistake == "unknown" and "you multiplied every array by 0.5" in fb.message, str(fb)


def test_clipping_under_other_keys_is_named():
    fb = check_clip_grad_norm(lambda g, m: (lambda r: ({"d" + k: v for k, v in r[0].items()}, r[1]))(
        S.clip_grad_norm(g, m)))
    assert not fb.passed and fb.mistake == "keys" and "same keys" in fb.message, str(fb)


def test_tanh_output_gate_is_named_and_not_reported_as_h_or_c_differ():
    def tanh_output_gate(x_t, h_prev, c_prev, params):
        H = h_prev.shape[1]
        a = x_t @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
        f, i, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
        C = f * c_prev + i * g
        return o * np.tanh(C), C, (x_t, h_prev, c_prev, np.concatenate([f, i, g, o], 1), np.tanh(C), params)

    fb = check_step_forward(tanh_output_gate)
    assert not fb.passed and fb.mistake == "output_gate_tanh", str(fb)
    assert "o_t uses tanh instead of sigmoid" in fb.message


def test_an_unlisted_output_mistake_says_that_C_t_is_right():
    def doubled_h(x_t, h_prev, c_prev, params):
        h, c, cache = S.lstm_step_forward(x_t, h_prev, c_prev, params)
        return 2 * h, c, cache

    fb = check_step_forward(doubled_h)
    assert not fb.passed and fb.mistake == "unknown" and "C_t matches the reference but h_t differs" in fb.message
