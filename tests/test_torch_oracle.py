"""PyTorch as an oracle: nn.LSTM loaded with our weights must agree with us (float64)."""
import numpy as np
import pytest

import minilstm
from minilstm.interop import from_torch_state_dict, to_torch_state_dict

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("B,T,D,H,L", [(1, 1, 3, 3, 1), (1, 7, 2, 5, 2), (4, 1, 6, 4, 3), (3, 9, 5, 8, 3),
                                       (2, 12, 1, 16, 2)])
@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_outputs_and_gradients_match_torch(B, T, D, H, L, kernels):
    rng = np.random.default_rng(B * 100 + T)
    ours = minilstm.LSTM(D, H, num_layers=L, kernels=kernels, seed=T)
    for k in ours.params:
        ours.params[k] = ours.params[k] + rng.standard_normal(ours.params[k].shape) * 0.3
    ref = torch.nn.LSTM(D, H, num_layers=L, batch_first=True, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state_dict(ours).items()})
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((L, B, H)), rng.standard_normal((L, B, H))
    G, Gh, Gc = rng.standard_normal((B, T, H)), rng.standard_normal((L, B, H)), rng.standard_normal((L, B, H))

    out, (hn, cn) = ours.forward(x, h0, c0)
    dx, dh0, dc0 = ours.backward(G, Gh, Gc)

    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    tout, (thn, tcn) = ref(tx, (th0, tc0))
    (tout * torch.from_numpy(G)).sum().add((thn * torch.from_numpy(Gh)).sum()).add(
        (tcn * torch.from_numpy(Gc)).sum()).backward()

    for a, t in ((out, tout), (hn, thn), (cn, tcn)):
        assert rel(a, t.detach().numpy()) < 1e-12
    for a, t in ((dx, tx), (dh0, th0), (dc0, tc0)):
        assert rel(a, t.grad.numpy()) < 1e-10
    # the weight gradients, mapped to torch's layout (bias_ih and bias_hh both receive db)
    ours.params = dict(ours.grads)
    g = to_torch_state_dict(ours)
    for name, p in ref.named_parameters():
        expected = g[name.replace("bias_hh", "bias_ih")]
        assert rel(expected, p.grad.numpy()) < 1e-10, name


def test_round_trip_is_exact():
    lstm = minilstm.LSTM(3, 5, num_layers=3, seed=7)
    back = from_torch_state_dict(to_torch_state_dict(lstm))
    for k, v in lstm.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    sd = to_torch_state_dict(lstm)
    ref = torch.nn.LSTM(3, 5, num_layers=3, batch_first=True, dtype=torch.float64)
    assert set(sd) == set(ref.state_dict())
    assert all(sd[k].shape == tuple(ref.state_dict()[k].shape) for k in sd)


def test_from_torch_module_weights_sum_biases():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(4, 6, num_layers=2, batch_first=True, dtype=torch.float64)
    ours = from_torch_state_dict(ref.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    out, _ = ours.forward(x)
    tout, _ = ref(torch.from_numpy(x))
    assert rel(out, tout.detach().numpy()) < 1e-12


def test_projected_state_dicts_are_refused():
    for kw in ({}, {"bidirectional": True}):
        ref = torch.nn.LSTM(3, 4, batch_first=True, proj_size=2, **kw)
        with pytest.raises(ValueError, match="projected"):
            from_torch_state_dict(ref.state_dict())
