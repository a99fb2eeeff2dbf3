"""The GRU layer and bidirectional LSTM/GRU layers: PyTorch as the oracle (float64), gradient checks of every
layer kind, PyTorch state_dict round trips, and the layer's conventions (shapes, order of states, errors)."""
import numpy as np
import pytest
from conftest import rel_norm

import minilstm
from minilstm.backend import numba_available
from minilstm.errors import ConfigError, ShapeError
from minilstm.gradcheck import check_layer
from minilstm.interop import from_torch_state_dict, to_torch_state_dict

LAYERS = {"lstm": minilstm.LSTM, "gru": minilstm.GRU}


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def perturbed(cell, D, H, L, rng, **kw):
    """A layer whose parameters (biases included) are moved away from the default initialisation."""
    layer = LAYERS[cell](D, H, num_layers=L, seed=int(rng.integers(100)), **kw)
    for k in layer.params:
        layer.params[k] = layer.params[k] + rng.standard_normal(layer.params[k].shape) * 0.3
    return layer


def kernels_or_skip(kernels):
    if kernels == "numba" and not numba_available:
        pytest.skip("Numba is not installed")


@pytest.mark.torch
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("B,T,D,H,L", [(1, 1, 3, 5, 1), (1, 1, 4, 2, 2), (1, 6, 2, 4, 3), (3, 7, 5, 3, 2),
                                       (2, 4, 1, 6, 3)])
@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_layer_outputs_and_every_gradient_match_torch(cell, bidirectional, B, T, D, H, L, kernels):
    torch = pytest.importorskip("torch")
    kernels_or_skip(kernels)
    rng = np.random.default_rng(B * 100 + T * 10 + L + 7 * bidirectional)
    ours = perturbed(cell, D, H, L, rng, kernels=kernels, bidirectional=bidirectional)
    torch_cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    ref = torch_cls(D, H, num_layers=L, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state_dict(ours).items()})
    S, W = L * (2 if bidirectional else 1), H * (2 if bidirectional else 1)
    n_states = 2 if cell == "lstm" else 1
    x, s0 = rng.standard_normal((B, T, D)), rng.standard_normal((n_states, S, B, H))
    G, G_s = rng.standard_normal((B, T, W)), rng.standard_normal((n_states, S, B, H))

    out, s_n = ours.forward(x, *s0)
    s_n = s_n if cell == "lstm" else (s_n,)
    dx, *ds0 = ours.backward(G, *G_s)

    tx, ts0 = torch.tensor(x, requires_grad=True), torch.tensor(s0, requires_grad=True)
    tout, ts_n = ref(tx, (ts0[0], ts0[1]) if cell == "lstm" else ts0[0])
    ts_n = ts_n if cell == "lstm" else (ts_n,)
    loss = (tout * torch.from_numpy(G)).sum()
    for t, g in zip(ts_n, G_s):
        loss = loss + (t * torch.from_numpy(g)).sum()
    loss.backward()

    assert out.shape == (B, T, W) and all(s.shape == (S, B, H) for s in s_n)
    assert rel(out, tout.detach().numpy()) < 1e-12
    for a, t in zip(s_n, ts_n):
        assert rel(a, t.detach().numpy()) < 1e-12
    assert rel(dx, tx.grad.numpy()) < 1e-10
    assert rel(np.stack(ds0), ts0.grad.numpy()) < 1e-10             # dh0 (and dc0)
    ours.params = dict(ours.grads)                                   # the gradients in torch's layout
    g = to_torch_state_dict(ours)
    named = dict(ref.named_parameters())
    assert set(g) == set(named)
    for name, p in named.items():
        if cell == "lstm" and name.startswith("bias_hh"):          # torch's two LSTM biases both receive db
            name = name.replace("bias_hh", "bias_ih")
        assert rel(g[name], p.grad.numpy()) < 1e-10, name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers,dropout,loss_on", [(1, 0.0, "all"), (2, 0.5, "last"), (3, 0.3, "all")])
def test_check_layer_passes_for_every_layer_kind(cell, bidirectional, num_layers, dropout, loss_on):
    rng = np.random.default_rng(num_layers)
    layer = perturbed(cell, 2, 3, num_layers, rng, kernels="numpy", dropout=dropout, bidirectional=bidirectional)
    x = rng.standard_normal((2, 4, 2))
    report = check_layer(layer, x, loss_on=loss_on, tol=1e-6)
    assert report.passed, str(report)
    names = {r["name"] for r in report.rows}
    assert {"x", "h0"} <= names and ("c0" in names) == (cell == "lstm")
    assert {k.replace(".", "_") for k in layer.params} <= names
    if dropout and num_layers > 1:
        assert layer.masks is not None and layer.masks[0].shape == (2, 4, 3 * (2 if bidirectional else 1))


def test_check_layer_refuses_c0_for_a_gru():
    gru = minilstm.GRU(2, 3)
    with pytest.raises(ConfigError, match="no cell state"):
        check_layer(gru, np.zeros((1, 2, 2)), c0=np.zeros((1, 1, 3)))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_dict_round_trip_is_bit_exact(cell, bidirectional):
    torch = pytest.importorskip("torch")
    layer = LAYERS[cell](3, 5, num_layers=3, seed=7, bidirectional=bidirectional)
    sd = to_torch_state_dict(layer)
    torch_cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    ref = torch_cls(3, 5, num_layers=3, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)
    assert {k: tuple(v.shape) for k, v in ref.state_dict().items()} == {k: v.shape for k, v in sd.items()}
    back = from_torch_state_dict(sd, cell=cell)
    assert type(back) is type(layer) and back.bidirectional == bidirectional and back.num_layers == 3
    assert set(back.params) == set(layer.params)
    for k, v in layer.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    # from a torch module's own weights (random, both biases nonzero): same outputs
    torch.manual_seed(1)
    ref = torch_cls(4, 6, num_layers=2, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)
    ours = from_torch_state_dict(ref.state_dict(), cell=cell)
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    assert rel(ours.forward(x)[0], ref(torch.from_numpy(x))[0].detach().numpy()) < 1e-12
    if cell == "gru":                                               # the GRU keeps both biases: exact both ways
        sd2 = to_torch_state_dict(ours)
        for k, v in ref.state_dict().items():
            np.testing.assert_array_equal(sd2[k], v.numpy())


def test_state_dict_of_the_wrong_cell_or_projected_is_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(ShapeError, match="GRU"):
        from_torch_state_dict(torch.nn.GRU(3, 4).state_dict(), cell="lstm")
    with pytest.raises(ShapeError, match="LSTM"):
        from_torch_state_dict(torch.nn.LSTM(3, 4).state_dict(), cell="gru")
    with pytest.raises(ShapeError, match="projected"):
        from_torch_state_dict(torch.nn.LSTM(3, 4, proj_size=2, bidirectional=True).state_dict())
    sd = to_torch_state_dict(minilstm.GRU(3, 4, num_layers=2, bidirectional=True))
    del sd["bias_hh_l1_reverse"]
    with pytest.raises(ShapeError, match="bias_hh_l1_reverse"):
        from_torch_state_dict(sd, cell="gru")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_layer_conventions(cell, rng):
    L, B, T, D, H = 2, 3, 5, 4, 6
    layer = LAYERS[cell](D, H, num_layers=L, bidirectional=True, kernels="numpy", seed=1)
    assert layer.params["l1.W_x"].shape[0] == 2 * H and layer.params["l1_reverse.W_x"].shape[0] == 2 * H
    assert layer.params["l0_reverse.W_x"].shape == (D, (4 if cell == "lstm" else 3) * H)
    x = rng.standard_normal((B, T, D))
    out, states = layer.forward(x)
    h_n = states[0] if cell == "lstm" else states
    assert out.shape == (B, T, 2 * H) and h_n.shape == (2 * L, B, H)
    np.testing.assert_array_equal(h_n[2 * (L - 1)], out[:, -1, :H])   # top forward: its state after x_T
    np.testing.assert_array_equal(h_n[2 * (L - 1) + 1], out[:, 0, H:])  # top reverse: its state after x_1
    # the reverse direction reads time backwards: reversing x swaps the two halves (with swapped weights)
    swapped = LAYERS[cell](D, H, num_layers=1, bidirectional=True, kernels="numpy")
    one = LAYERS[cell](D, H, num_layers=1, bidirectional=True, kernels="numpy", seed=3)
    for k in one.params:
        other = k.replace("_reverse", "") if "_reverse" in k else k.replace(".", "_reverse.")
        swapped.params[other] = one.params[k]
    o1, _ = one.forward(x)
    o2, _ = swapped.forward(x[:, ::-1].copy())
    np.testing.assert_allclose(o2[:, ::-1, :H], o1[:, :, H:], rtol=1e-13, atol=1e-15)
    o1, _ = one.forward(x)                                          # the reverse direction's gates, in x's time order
    np.testing.assert_array_equal(one.gate_activations(layer=0, direction=1)["h"], o1[:, :, H:])
    np.testing.assert_array_equal(one.gate_activations(layer=0, direction=0)["h"], o1[:, :, :H])
    with pytest.raises(ConfigError, match="direction"):
        layer.gate_activations(direction=2)
    with pytest.raises(ShapeError, match=r"num_layers \* num_directions"):
        layer.forward(x, np.zeros((L, B, H)))
    with pytest.raises(ConfigError, match="bidirectional"):
        LAYERS[cell](D, H, bidirectional="yes")


def test_gru_layer_kernels_agree_and_batch_equals_single_samples(rng):
    x = rng.standard_normal((4, 6, 3))
    outs = {}
    for kernels in ["numpy"] + (["numba"] if numba_available else []):
        gru = minilstm.GRU(3, 5, num_layers=2, bidirectional=True, kernels=kernels, seed=2)
        out, h_n = gru.forward(x)
        G = rng.standard_normal(out.shape) if not outs else outs["numpy"][2]
        dx, dh0 = gru.backward(G)
        outs[kernels] = (out, dx, G, dict(gru.grads))
    if "numba" in outs:
        for a, b in zip(outs["numba"][:2], outs["numpy"][:2]):
            assert rel_norm(a, b) < 1e-12
        for k, v in outs["numpy"][3].items():
            assert rel_norm(outs["numba"][3][k], v) < 1e-12, k
    gru = minilstm.GRU(3, 5, num_layers=2, bidirectional=True, kernels="numpy", seed=2)
    out, _ = gru.forward(x)
    for b in range(4):
        ob, _ = gru.forward(x[b:b + 1])
        np.testing.assert_allclose(ob[0], out[b], rtol=1e-13, atol=1e-15)
    acts = gru.gate_activations()
    assert set(acts) == {"r", "z", "n", "h"} and all(v.shape == (1, 6, 5) for v in acts.values())


@pytest.mark.cuda
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_layers_on_the_gpu_match_the_cpu(cell, rng):
    from minilstm.backend import cupy_available
    if not cupy_available:
        pytest.skip("needs CuPy and a CUDA GPU")
    import cupy as cp
    cpu = LAYERS[cell](3, 8, num_layers=2, bidirectional=True, kernels="numpy", seed=4)
    gpu = LAYERS[cell](3, 8, num_layers=2, bidirectional=True, device="cuda", seed=4)
    x = rng.standard_normal((5, 7, 3))
    G = rng.standard_normal((5, 7, 16))
    out, _ = cpu.forward(x)
    dx = cpu.backward(G)[0]
    gout, _ = gpu.forward(cp.asarray(x))
    gdx = gpu.backward(cp.asarray(G))[0]
    assert rel_norm(cp.asnumpy(gout), out) < 1e-10 and rel_norm(cp.asnumpy(gdx), dx) < 1e-10   # as test_cuda
    for k, v in cpu.grads.items():
        assert rel_norm(cp.asnumpy(gpu.grads[k]), v) < 1e-10, k
