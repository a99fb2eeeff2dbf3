"""The reference implementation against finite differences (float64), and its internal consistency."""
import numpy as np
import pytest
from conftest import random_params, rel_norm

import minilstm
from minilstm import core
from minilstm.gradcheck import check_function, check_layer


def step_inputs(rng, B=3, D=4, H=5):
    return dict(x=rng.standard_normal((B, D)), h=rng.standard_normal((B, H)), c=rng.standard_normal((B, H)),
                **random_params(rng, D, H))


def test_step_gradients_every_input_and_parameter(rng):
    inp = step_inputs(rng)

    def fwd(x, h, c, W_x, W_h, b):
        h1, c1, _ = core.lstm_step_forward(x, h, c, {"W_x": W_x, "W_h": W_h, "b": b})
        return h1, c1

    def bwd(dh, dc):
        _, _, cache = core.lstm_step_forward(inp["x"], inp["h"], inp["c"], {k: inp[k] for k in ("W_x", "W_h", "b")})
        dx, dh_prev, dc_prev, dp = core.lstm_step_backward(dh, dc, cache)
        return {"x": dx, "h": dh_prev, "c": dc_prev, **dp}

    report = check_function(fwd, bwd, inp, tol=1e-7)
    assert report.passed, str(report)
    assert {r["name"] for r in report.rows} == set(inp)
    # the classic central difference (h = 1e-5) agrees too, within 1e-7, on one step
    assert check_function(fwd, bwd, inp, tol=1e-7, order=2, h=1e-5).passed


@pytest.mark.parametrize("num_layers", [2, 3])
@pytest.mark.parametrize("loss_on", ["all", "last"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stacked_bptt_gradients(num_layers, loss_on, seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(2, 11))
    lstm = minilstm.LSTM(3, 4, num_layers=num_layers, kernels="numpy", seed=seed)
    for k in lstm.params:  # nonzero, non-default biases
        lstm.params[k] = lstm.params[k] + rng.standard_normal(lstm.params[k].shape) * 0.2
    x = rng.standard_normal((2, T, 3))
    report = check_layer(lstm, x, loss_on=loss_on, tol=1e-6, seed=seed)
    assert report.passed, str(report)
    assert {"x", "h0", "c0"} <= {r["name"] for r in report.rows}


def test_sequence_equals_loop_of_steps(rng):
    B, T, D, H = 3, 6, 4, 5
    p = random_params(rng, D, H)
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    h_seq, (hT, cT), cache = core.lstm_forward(x, h0, c0, p)
    G = rng.standard_normal((B, T, H))
    dx, dh0, dc0, dp = core.lstm_backward(G, None, None, cache)
    h, c, caches = h0, c0, []
    for t in range(T):
        h, c, ca = core.lstm_step_forward(x[:, t], h, c, p)
        caches.append(ca)
        np.testing.assert_allclose(h, h_seq[:, t], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h, hT, rtol=1e-13)
    np.testing.assert_allclose(c, cT, rtol=1e-13)
    dh, dc = np.zeros((B, H)), np.zeros((B, H))
    acc = {k: np.zeros_like(v) for k, v in p.items()}
    dxs = np.zeros_like(x)
    for t in reversed(range(T)):
        dxs[:, t], dh, dc, g = core.lstm_step_backward(G[:, t] + dh, dc, caches[t])
        for k in acc:
            acc[k] += g[k]
    assert rel_norm(dx, dxs) < 1e-13 and rel_norm(dh0, dh) < 1e-13 and rel_norm(dc0, dc) < 1e-13
    for k in p:
        assert rel_norm(dp[k], acc[k]) < 1e-13


def test_batch_equals_single_samples(rng):
    lstm = minilstm.LSTM(4, 6, num_layers=2, kernels="numpy", seed=3)
    x = rng.standard_normal((4, 5, 4))
    out, (hn, cn) = lstm.forward(x)
    G = rng.standard_normal(out.shape)
    dx, _, _ = lstm.backward(G)
    grads = {k: v.copy() for k, v in lstm.grads.items()}
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for b in range(4):
        ob, (hb, cb) = lstm.forward(x[b:b + 1])
        np.testing.assert_allclose(ob[0], out[b], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(hb[:, 0], hn[:, b], rtol=1e-13, atol=1e-15)
        dxb, _, _ = lstm.backward(G[b:b + 1])
        np.testing.assert_allclose(dxb[0], dx[b], rtol=1e-12, atol=1e-15)
        for k in total:
            total[k] += lstm.grads[k]
    for k in grads:
        assert rel_norm(total[k], grads[k]) < 1e-12


def test_dropout_fixed_mask_gradcheck_and_eval_mode(rng):
    lstm = minilstm.LSTM(3, 4, num_layers=3, dropout=0.5, kernels="numpy", seed=5)
    x = rng.standard_normal((2, 5, 3))
    report = check_layer(lstm, x, tol=1e-6)
    assert report.passed, str(report)
    lstm.forward(x)
    assert lstm.masks is not None and len(lstm.masks) == 2
    assert any((m == 0).any() for m in lstm.masks)            # some units really dropped
    assert all(np.allclose(np.unique(m), [0.0, 2.0]) for m in lstm.masks)  # inverted scaling 1/(1-p)
    lstm.eval()
    o1, _ = lstm.forward(x)
    o2, _ = lstm.forward(x)
    assert lstm.masks is None
    np.testing.assert_array_equal(o1, o2)
    lstm.train()
    o3, _ = lstm.forward(x)
    assert not np.allclose(o1, o3)


def test_functions_do_not_mutate_inputs(rng):
    p = random_params(rng, 3, 4)
    x, h0, c0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    copies = [a.copy() for a in (x, h0, c0, *p.values())]
    out, (hT, cT), cache = core.lstm_forward(x, h0, c0, p)
    G = rng.standard_normal(out.shape)
    Gc = G.copy()
    core.lstm_backward(G, hT, cT, cache)
    for a, b in zip((x, h0, c0, *p.values()), copies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(G, Gc)


def test_sigmoid_is_stable_and_gate_layout():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = core.sigmoid(x)
    np.testing.assert_allclose(s, [0, 1 / (1 + np.exp(30)), 0.5, 1 / (1 + np.exp(-30)), 1], rtol=1e-12, atol=1e-300)
    F, I, G, O = core.gate_slices(3)
    assert (F, I, G, O) == (slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12))
    assert core.GATES == ("f", "i", "c_tilde", "o")


def test_spec_form_equals_stored_layout(rng):
    """W_f . [h, x] + b_f with W_f (H, H+D) equals the f block of x @ W_x + h @ W_h + b."""
    D, H = 3, 4
    p = random_params(rng, D, H)
    x, h, c = rng.standard_normal((1, D)), rng.standard_normal((1, H)), rng.standard_normal((1, H))
    F = core.gate_slices(H)[0]
    W_f = np.concatenate([p["W_h"][:, F].T, p["W_x"][:, F].T], axis=1)   # (H, H + D)
    f_spec = core.sigmoid(W_f @ np.concatenate([h[0], x[0]]) + p["b"][F])
    _, _, cache = core.lstm_step_forward(x, h, c, p)
    np.testing.assert_allclose(cache[3][0, F], f_spec, rtol=1e-14)


def test_gate_activations_shapes(rng):
    lstm = minilstm.LSTM(2, 3, num_layers=2, kernels="numpy")
    lstm.forward(rng.standard_normal((4, 6, 2)))
    acts = lstm.gate_activations()
    assert set(acts) == {"f", "i", "c_tilde", "o", "C", "h"}
    assert all(v.shape == (4, 6, 3) for v in acts.values())
    assert ((acts["f"] > 0) & (acts["f"] < 1)).all()
    np.testing.assert_allclose(acts["h"], acts["o"] * np.tanh(acts["C"]), rtol=1e-14)


def test_linear_and_losses_gradients(rng):
    from minilstm import functional as Fn
    inp = {"x": rng.standard_normal((5, 3)), "W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}

    def bwd(dy):
        _, cache = Fn.linear_forward(inp["x"], inp["W"], inp["b"])
        dx, g = Fn.linear_backward(dy, cache)
        return {"x": dx, **g}

    assert check_function(lambda x, W, b: Fn.linear_forward(x, W, b)[0], bwd, inp).passed
    target = rng.standard_normal((5, 2))
    for name, loss in Fn.LOSSES.items():
        pred = rng.standard_normal((5, 2)) * 2
        _, g = loss(pred, target)
        from minilstm.gradcheck import numerical_gradient
        num = numerical_gradient(lambda p: loss(p, target)[0], pred)
        np.testing.assert_allclose(g, num, atol=1e-7, err_msg=name)


def test_layer_input_errors():
    lstm = minilstm.LSTM(3, 4)
    with pytest.raises(ValueError, match="shape"):
        lstm.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="batch, time, 3"):
        lstm.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="h0"):
        lstm.forward(np.zeros((2, 5, 3)), h0=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="dropout"):
        minilstm.LSTM(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_size"):
        minilstm.LSTM(3, 0)
    with pytest.raises(TypeError):
        lstm.forward([[1, 2, 3]])


def test_none_initial_states_mean_zeros(rng):
    from minilstm.kernels import numba_cpu
    p = random_params(rng, 3, 4)
    x = rng.standard_normal((2, 5, 3))
    zero = np.zeros((2, 4))
    ref = core.lstm_forward(x, zero, zero, p)[0]
    np.testing.assert_array_equal(core.lstm_forward(x, None, None, p)[0], ref)
    np.testing.assert_allclose(numba_cpu.lstm_forward(x, None, None, p)[0], ref, rtol=1e-13, atol=1e-15)
