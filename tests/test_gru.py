"""The GRU reference against finite differences, itself (steps vs sequence) and its Numba kernels; the
bidirectional wrapper over the cells' functions against PyTorch (the layers: test_layers_gru_bidirectional.py)."""
import numpy as np
import pytest
from conftest import random_params, rel_norm

from minilstm import core, gru
from minilstm.backend import cupy_available, numba_available
from minilstm.bidirectional import bidirectional_backward, bidirectional_forward
from minilstm.errors import InputTypeError, ShapeError
from minilstm.gradcheck import check_function


def gru_params(rng, D, H, scale=0.5, dtype=np.float64):
    """One GRU layer's params with nonzero biases (b_h != 0 matters: b_hn sits inside r * (...))."""
    return {"W_x": (rng.standard_normal((D, 3 * H)) * scale).astype(dtype),
            "W_h": (rng.standard_normal((H, 3 * H)) * scale).astype(dtype),
            "b_x": (rng.standard_normal(3 * H) * scale).astype(dtype),
            "b_h": (rng.standard_normal(3 * H) * scale).astype(dtype)}


def test_step_gradients_every_input_and_parameter(rng):
    B, D, H = 3, 4, 5
    inp = dict(x=rng.standard_normal((B, D)), h=rng.standard_normal((B, H)), **gru_params(rng, D, H))

    def fwd(x, h, W_x, W_h, b_x, b_h):
        return gru.gru_step_forward(x, h, {"W_x": W_x, "W_h": W_h, "b_x": b_x, "b_h": b_h})[0]

    def bwd(dh):
        _, cache = gru.gru_step_forward(inp["x"], inp["h"], {k: inp[k] for k in gru.GRU_PARAMS})
        dx, dh_prev, dp = gru.gru_step_backward(dh, cache)
        return {"x": dx, "h": dh_prev, **dp}

    report = check_function(fwd, bwd, inp, tol=1e-7)
    assert report.passed, str(report)
    assert {r["name"] for r in report.rows} == set(inp)
    assert check_function(fwd, bwd, inp, tol=1e-7, order=2, h=1e-5).passed   # the classic check agrees


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("with_dh_seq", [True, False])
def test_sequence_bptt_gradients(seed, with_dh_seq):
    rng = np.random.default_rng(seed)
    B, T, D, H = 2, int(rng.integers(2, 7)), 3, 4
    inp = dict(x=rng.standard_normal((B, T, D)), h0=rng.standard_normal((B, H)), **gru_params(rng, D, H))

    def fwd(x, h0, **p):
        h_seq, h_T, _ = gru.gru_forward(x, h0, p)
        return (h_seq if with_dh_seq else None), h_T

    def bwd(G, G_T):
        _, _, cache = gru.gru_forward(inp["x"], inp["h0"], {k: inp[k] for k in gru.GRU_PARAMS})
        dx, dh0, dp = gru.gru_backward(G, G_T, cache)
        return {"x": dx, "h0": dh0, **dp}

    report = check_function(fwd, bwd, inp, tol=1e-6, seed=seed)
    assert report.passed, str(report)


def test_sequence_equals_loop_of_steps(rng):
    B, T, D, H = 3, 6, 4, 5
    p = gru_params(rng, D, H)
    x, h0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H))
    h_seq, h_T, cache = gru.gru_forward(x, h0, p)
    G, G_T = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    dx, dh0, dp = gru.gru_backward(G, G_T, cache)
    h, caches = h0, []
    for t in range(T):
        h, ca = gru.gru_step_forward(x[:, t], h, p)
        caches.append(ca)
        np.testing.assert_allclose(h, h_seq[:, t], rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(h_T, h_seq[:, -1])
    dh, acc, dxs = G_T, {k: np.zeros_like(v) for k, v in p.items()}, np.zeros_like(x)
    for t in reversed(range(T)):
        dxs[:, t], dh, g = gru.gru_step_backward(G[:, t] + dh, caches[t])
        for k in acc:
            acc[k] += g[k]
    assert rel_norm(dx, dxs) < 1e-13 and rel_norm(dh0, dh) < 1e-13
    assert set(dp) == set(p)
    for k in p:
        assert rel_norm(dp[k], acc[k]) < 1e-13, k


def test_equations_in_the_stored_layout(rng):
    """The r, z, n blocks of the stored layout are the documented equations, with r_t scaling b_hn too."""
    D, H = 3, 4
    p = gru_params(rng, D, H)
    x, h = rng.standard_normal((2, D)), rng.standard_normal((2, H))
    R, Z, N = gru.gru_gate_slices(H)
    r = 1 / (1 + np.exp(-(x @ p["W_x"][:, R] + p["b_x"][R] + h @ p["W_h"][:, R] + p["b_h"][R])))
    z = 1 / (1 + np.exp(-(x @ p["W_x"][:, Z] + p["b_x"][Z] + h @ p["W_h"][:, Z] + p["b_h"][Z])))
    n = np.tanh(x @ p["W_x"][:, N] + p["b_x"][N] + r * (h @ p["W_h"][:, N] + p["b_h"][N]))
    h_t, cache = gru.gru_step_forward(x, h, p)
    np.testing.assert_allclose(h_t, (1 - z) * n + z * h, rtol=1e-13)
    np.testing.assert_allclose(cache[2], np.concatenate([r, z, n], axis=1), rtol=1e-13)
    assert gru.GRU_GATES == ("r", "z", "n")
    acts = gru.gru_gate_activations(gru.gru_forward(x[:, None], h, p)[2])
    np.testing.assert_allclose(acts["z"][:, 0], z, rtol=1e-13)
    np.testing.assert_allclose(acts["h"][:, 0], h_t, rtol=1e-13)


def test_functions_do_not_mutate_inputs_and_none_h0_is_zeros(rng):
    p = gru_params(rng, 3, 4)
    x, h0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4))
    copies = [a.copy() for a in (x, h0, *p.values())]
    out, h_T, cache = gru.gru_forward(x, h0, p)
    G, G_T = rng.standard_normal(out.shape), rng.standard_normal(h_T.shape)
    Gc, G_Tc = G.copy(), G_T.copy()
    gru.gru_backward(G, G_T, cache)
    for a, b in zip((x, h0, *p.values(), G, G_T), (*copies, Gc, G_Tc)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(gru.gru_forward(x, None, p)[0], gru.gru_forward(x, np.zeros((2, 4)), p)[0])
    dx, dh0, dp = gru.gru_backward(None, None, cache)       # no upstream gradient: every gradient is zero
    assert not dx.any() and not dh0.any() and not any(v.any() for v in dp.values())


# ---- Numba kernels --------------------------------------------------------------------------

numba_only = pytest.mark.skipif(not numba_available, reason="Numba is not installed")
SHAPES = [(1, 1, 3, 4), (1, 9, 5, 16), (5, 7, 3, 5), (16, 12, 10, 33), (3, 1, 1, 17)]


@numba_only
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("B,T,D,H", SHAPES)
@pytest.mark.parametrize("with_dh_seq", [True, False])
def test_numba_equals_reference(dtype, tol, B, T, D, H, with_dh_seq):
    from minilstm.kernels import numba_gru
    rng = np.random.default_rng(B * 1000 + T * 10 + H)
    p = gru_params(rng, D, H, scale=0.4)
    x, h0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H))
    G, G_T = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    ref = gru.gru_forward(x, h0, p)                                   # float64 reference
    cast = lambda a: a.astype(dtype)  # noqa: E731
    out = numba_gru.gru_forward(cast(x), cast(h0), {k: cast(v) for k, v in p.items()})
    assert out[0].dtype == dtype and out[1].dtype == dtype
    assert rel_norm(out[0], ref[0]) < tol and rel_norm(out[1], ref[1]) < tol
    for k in ("hs", "gates", "hn"):
        assert rel_norm(out[2][k], ref[2][k]) < tol, k
    rb = gru.gru_backward(G if with_dh_seq else None, G_T, ref[2])
    nb = numba_gru.gru_backward(cast(G) if with_dh_seq else None, cast(G_T), out[2])
    assert rel_norm(nb[0], rb[0]) < tol and rel_norm(nb[1], rb[1]) < tol
    assert set(nb[2]) == set(p)
    for k in p:
        assert nb[2][k].dtype == dtype
        assert rel_norm(nb[2][k], rb[2][k]) < tol, k


@numba_only
def test_numba_none_states(rng):
    from minilstm.kernels import numba_gru
    p = gru_params(rng, 3, 4)
    x = rng.standard_normal((2, 5, 3))
    out = numba_gru.gru_forward(x, None, p)
    assert rel_norm(out[0], gru.gru_forward(x, None, p)[0]) < 1e-13
    dx, dh0, _ = numba_gru.gru_backward(None, None, out[2])
    assert not dx.any() and not dh0.any()


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_entries_refuse_wrong_sizes_with_clear_errors(rng, kernels):
    if kernels == "numba" and not numba_available:
        pytest.skip("Numba is not installed")
    from minilstm.kernels import numba_gru
    impl = gru if kernels == "numpy" else numba_gru
    p = gru_params(rng, 3, 4)
    x = rng.standard_normal((2, 5, 3))
    _, _, cache = impl.gru_forward(x, None, p)
    with pytest.raises(ShapeError, match=r"W_h'\] must have shape \(H, 3H\).*got \(4, 8\)"):
        impl.gru_forward(x, None, {**p, "W_h": p["W_h"][:, :8]})
    with pytest.raises(ShapeError, match=r"W_x'\] must have shape \(2, 12\)"):
        impl.gru_forward(x[:, :, :2].copy(), None, p)
    with pytest.raises(ShapeError, match=r"b_h'\] must have shape \(12,\)"):
        impl.gru_forward(x, None, {**p, "b_h": p["b_h"][:6]})
    with pytest.raises(ShapeError, match=r"h0 must have shape \(2, 4\)"):
        impl.gru_forward(x, np.zeros((3, 4)), p)
    with pytest.raises(ShapeError, match="single 'b' is the LSTM's layout"):
        impl.gru_forward(x, None, {"W_x": p["W_x"], "W_h": p["W_h"], "b": p["b_x"]})
    with pytest.raises(InputTypeError, match="dtype"):
        impl.gru_forward(x.astype(np.float32), None, p)
    with pytest.raises(ShapeError, match=r"dh_seq must have shape \(2, 5, 4\)"):
        impl.gru_backward(np.zeros((2, 6, 4)), None, cache)
    with pytest.raises(ShapeError, match=r"dh_T must have shape \(2, 4\)"):
        impl.gru_backward(None, np.zeros((2, 5)), cache)
    with pytest.raises(ShapeError, match=r"cache\['hn'\]"):
        impl.gru_backward(None, None, {**cache, "hn": cache["hn"][:-1]})
    with pytest.raises(InputTypeError, match="gru_forward"):
        impl.gru_backward(None, None, (cache,))


def test_step_entries_refuse_wrong_sizes(rng):
    p = gru_params(rng, 3, 4)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    with pytest.raises(ShapeError, match=r"h_prev must have shape \(2, 4\)"):
        gru.gru_step_forward(x, h[:, :3], p)
    _, cache = gru.gru_step_forward(x, h, p)
    with pytest.raises(ShapeError, match=r"dh_t must have shape \(2, 4\)"):
        gru.gru_step_backward(h[:1], cache)
    with pytest.raises(InputTypeError, match="gru_step_forward"):
        gru.gru_step_backward(h, cache[:4])
    with pytest.raises(ShapeError, match=r"3H"):
        gru.gru_gates_forward(np.zeros((2, 10)), np.zeros((2, 10)), h)


# ---- PyTorch as the oracle ------------------------------------------------------------------

def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def torch_gru_state_dict(layers, torch, suffix=""):
    sd = {}
    for k, p in enumerate(layers):
        sd.update({f"weight_ih_l{k}{suffix}": torch.from_numpy(p["W_x"].T.copy()),
                   f"weight_hh_l{k}{suffix}": torch.from_numpy(p["W_h"].T.copy()),
                   f"bias_ih_l{k}{suffix}": torch.from_numpy(p["b_x"].copy()),
                   f"bias_hh_l{k}{suffix}": torch.from_numpy(p["b_h"].copy())})
    return sd


def lstm_cell_params(rng, D, H):
    return random_params(rng, D, H, scale=0.6)


def torch_lstm_state_dict(p, torch, suffix=""):
    """minilstm's LSTM layout (f, i, c~, o; one bias) -> torch's (i, f, g, o; bias_hh zero)."""
    H = p["W_h"].shape[0]
    idx = np.r_[H:2 * H, 0:H, 2 * H:4 * H]
    return {f"weight_ih_l0{suffix}": torch.from_numpy(p["W_x"][:, idx].T.copy()),
            f"weight_hh_l0{suffix}": torch.from_numpy(p["W_h"][:, idx].T.copy()),
            f"bias_ih_l0{suffix}": torch.from_numpy(p["b"][idx].copy()),
            f"bias_hh_l0{suffix}": torch.zeros(4 * H, dtype=torch.float64)}


@pytest.mark.torch
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("B,T,D,H", [(1, 1, 2, 3), (3, 6, 4, 5)])
@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_bidirectional_wrapper_matches_torch(cell, B, T, D, H, kernels):
    torch = pytest.importorskip("torch")
    if kernels == "numba" and not numba_available:
        pytest.skip("Numba is not installed")
    from minilstm.kernels import numba_cpu, numba_gru
    rng = np.random.default_rng(T * 7 + H)
    n_states = 1 if cell == "gru" else 2
    if cell == "gru":
        impl = gru if kernels == "numpy" else numba_gru
        fwd, bwd, make = impl.gru_forward, impl.gru_backward, gru_params
        ref = torch.nn.GRU(D, H, batch_first=True, bidirectional=True, dtype=torch.float64)
        to_sd = torch_gru_state_dict
    else:
        impl = core if kernels == "numpy" else numba_cpu
        fwd, bwd, make = impl.lstm_forward, impl.lstm_backward, lstm_cell_params
        ref = torch.nn.LSTM(D, H, batch_first=True, bidirectional=True, dtype=torch.float64)
        to_sd = lambda ps, torch, suffix: torch_lstm_state_dict(ps[0], torch, suffix)  # noqa: E731
    params = (make(rng, D, H), make(rng, D, H))
    ref.load_state_dict({**to_sd([params[0]], torch, ""), **to_sd([params[1]], torch, "_reverse")})
    x = rng.standard_normal((B, T, D))
    s0 = rng.standard_normal((n_states, 2, B, H))            # (h0, c0) x (forward, reverse)
    G, G_s = rng.standard_normal((B, T, 2 * H)), rng.standard_normal((n_states, 2, B, H))

    out, states_T, caches = bidirectional_forward(fwd, x, (tuple(s0[:, 0]), tuple(s0[:, 1])), params)
    dx, dstates0, dparams = bidirectional_backward(bwd, G, (tuple(G_s[:, 0]), tuple(G_s[:, 1])), caches)

    tx, ts0 = torch.tensor(x, requires_grad=True), torch.tensor(s0, requires_grad=True)
    tout, tstates = ref(tx, ts0[0] if cell == "gru" else (ts0[0], ts0[1]))
    tstates = (tstates,) if cell == "gru" else tstates
    loss = (tout * torch.from_numpy(G)).sum()
    for s, g in zip(tstates, G_s):
        loss = loss + (s * torch.from_numpy(g)).sum()
    loss.backward()
    assert out.shape == (B, T, 2 * H)
    assert rel(out, tout.detach().numpy()) < 1e-12
    for i, s in enumerate(tstates):                          # torch's h_n[0] forward, h_n[1] reverse
        assert rel(np.stack([states_T[0][i], states_T[1][i]]), s.detach().numpy()) < 1e-12
    assert rel(dx, tx.grad.numpy()) < 1e-10
    assert rel(np.stack([np.stack(d) for d in dstates0], axis=1), ts0.grad.numpy()) < 1e-10
    named = dict(ref.named_parameters())
    for direction, suffix in ((0, ""), (1, "_reverse")):
        theirs = to_sd([dparams[direction]], torch, suffix)
        for name, t in theirs.items():
            if name.startswith("bias_hh") and cell == "lstm":     # torch's two LSTM biases both receive db
                t = theirs[name.replace("bias_hh", "bias_ih")]
            assert rel(t.numpy(), named[name].grad.numpy()) < 1e-10, name


@pytest.mark.cuda
@pytest.mark.skipif(not cupy_available, reason="needs CuPy and a CUDA GPU")
def test_reference_and_bidirectional_run_on_cupy(rng):
    import cupy as cp
    B, T, D, H = 4, 6, 3, 5
    params = (gru_params(rng, D, H), gru_params(rng, D, H))
    x, h0 = rng.standard_normal((B, T, D)), rng.standard_normal((2, B, H))
    G, G_n = rng.standard_normal((B, T, 2 * H)), rng.standard_normal((2, B, H))
    dev = lambda p: {k: cp.asarray(v) for k, v in p.items()}  # noqa: E731
    out, s, caches = bidirectional_forward(gru.gru_forward, x, ((h0[0],), (h0[1],)), params)
    dx, ds, dp = bidirectional_backward(gru.gru_backward, G, ((G_n[0],), (G_n[1],)), caches)
    cout, cs, ccaches = bidirectional_forward(gru.gru_forward, cp.asarray(x), ((cp.asarray(h0[0]),),
                                              (cp.asarray(h0[1]),)), tuple(dev(p) for p in params))
    cdx, cds, cdp = bidirectional_backward(gru.gru_backward, cp.asarray(G), ((cp.asarray(G_n[0]),),
                                           (cp.asarray(G_n[1]),)), ccaches)
    assert isinstance(cout, cp.ndarray) and isinstance(cdx, cp.ndarray)
    assert rel_norm(cp.asnumpy(cout), out) < 1e-12 and rel_norm(cp.asnumpy(cdx), dx) < 1e-12
    for d in range(2):
        assert rel_norm(cp.asnumpy(cs[d][0]), s[d][0]) < 1e-12 and rel_norm(cp.asnumpy(cds[d][0]), ds[d][0]) < 1e-12
        for k in gru.GRU_PARAMS:
            assert rel_norm(cp.asnumpy(cdp[d][k]), dp[d][k]) < 1e-12, k
