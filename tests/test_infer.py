"""``infer``: the forward pass without caches (inference) gives the eval-mode forward's outputs bit for bit,
keeps nothing, and leaves the last forward's caches (backward, gate_activations) as they were."""
import numpy as np
import pytest

import minilstm
from minilstm.backend import numba_available
from minilstm.errors import NotFittedError, ShapeError

KERNELS = ["numpy"] + (["numba"] if numba_available else [])
LAYERS = [(minilstm.LSTM, {}), (minilstm.GRU, {}), (minilstm.LSTM, {"bidirectional": True})]


def _states(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("cls,kw", LAYERS)
@pytest.mark.parametrize("B,T", [(1, 6), (5, 1), (40, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infer_is_the_eval_forward_bitwise(kernels, cls, kw, B, T, dtype):
    layer = cls(3, 7, num_layers=2, dropout=0.3, dtype=dtype, kernels=kernels, seed=1, **kw)
    rng = np.random.default_rng(B + T)
    x = rng.standard_normal((B, T, 3)).astype(dtype)
    h0 = rng.standard_normal((2 * layer.num_directions, B, 7)).astype(dtype)
    layer.eval()
    ref = layer.forward(x, h0)
    layer.train()                                      # infer never drops out, whatever the mode
    got = layer.infer(x, h0)
    np.testing.assert_array_equal(got[0], ref[0])
    for a, b in zip(_states(got[1]), _states(ref[1])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kernels", KERNELS)
def test_infer_keeps_no_cache_and_leaves_the_last_forwards(kernels):
    lstm = minilstm.LSTM(3, 5, num_layers=2, dropout=0.2, kernels=kernels, seed=0)
    rng = np.random.default_rng(0)
    x, x2, G = rng.standard_normal((4, 6, 3)), rng.standard_normal((9, 2, 3)), rng.standard_normal((4, 6, 5))
    fresh = minilstm.LSTM(3, 5, num_layers=2, dropout=0.2, kernels=kernels, seed=0)
    with pytest.raises(NotFittedError):                # infer alone leaves nothing to differentiate
        fresh.infer(x)
        fresh.backward(G)
    lstm.forward(x)
    masks = [m.copy() for m in lstm.masks]
    acts = lstm.gate_activations()
    lstm.infer(x2)                                     # another batch shape in between
    assert all(np.array_equal(m, n) for m, n in zip(lstm.masks, masks))
    for k, v in lstm.gate_activations().items():
        np.testing.assert_array_equal(v, acts[k])
    dx = lstm.backward(G)[0]
    ref = minilstm.LSTM(3, 5, num_layers=2, dropout=0.2, kernels=kernels, seed=0)
    ref.forward(x, masks=masks)
    np.testing.assert_array_equal(dx, ref.backward(G)[0])
    for k in ref.grads:
        np.testing.assert_array_equal(lstm.grads[k], ref.grads[k])


@pytest.mark.skipif(not numba_available, reason="Numba is not installed")
@pytest.mark.parametrize("B,T,D,H", [(1, 7, 3, 5), (3, 1, 2, 4), (33, 5, 4, 9), (64, 3, 6, 8)])
def test_kernel_infer_matches_forward_and_returns_no_cache(B, T, D, H):
    from conftest import random_params

    from minilstm.kernels import numba_cpu
    rng = np.random.default_rng(B * T)
    p = {k: v.astype(np.float32) for k, v in random_params(rng, D, H, scale=0.4).items()}
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    h0, c0 = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(2))
    for args in ((x, None, None, p), (x, h0, c0, p)):
        ref, got = numba_cpu.lstm_forward(*args), numba_cpu.lstm_infer(*args)
        assert got[2] is None
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1][0], ref[1][0])
        np.testing.assert_array_equal(got[1][1], ref[1][1])
    again = numba_cpu.lstm_infer(x, h0, c0, p)         # the kept scratch arrays leave no trace between calls
    np.testing.assert_array_equal(again[0], got[0])


def test_infer_checks_its_input_like_forward():
    lstm = minilstm.LSTM(3, 5)
    with pytest.raises(ShapeError, match="x"):
        lstm.infer(np.zeros((2, 4, 4)))
    with pytest.raises(minilstm.errors.DataError):
        lstm.infer(np.full((2, 4, 3), np.nan))
