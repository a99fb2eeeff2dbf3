"""Optimizers and clipping against hand computations and torch.optim."""
import numpy as np
import pytest

from minilstm.optim import SGD, Adam, AdamW, clip_grad_norm, global_norm


def test_clip_grad_norm_hand_computed():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    clipped, norm = clip_grad_norm(g, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])           # input untouched
    assert global_norm(clipped) == pytest.approx(1.0)
    same, n2 = clip_grad_norm(g, 10.0)
    assert n2 == pytest.approx(5.0) and same["a"] is g["a"]


def test_sgd_momentum_hand_computed():
    p = {"w": np.array([1.0, -2.0])}
    opt = SGD(p, lr=0.1, momentum=0.9)
    opt.step({"w": np.array([1.0, 1.0])})       # v = g
    np.testing.assert_allclose(p["w"], [0.9, -2.1])
    opt.step({"w": np.array([1.0, 1.0])})       # v = 0.9 + 1 = 1.9
    np.testing.assert_allclose(p["w"], [0.9 - 0.19, -2.1 - 0.19])


def test_adam_first_step_is_lr_times_sign():
    p = {"w": np.array([1.0, -2.0, 0.5])}
    Adam(p, lr=0.01).step({"w": np.array([3.0, -0.1, 1e-3])})
    np.testing.assert_allclose(p["w"], [0.99, -1.99, 0.49], rtol=1e-6)


def test_adamw_decouples_weight_decay():
    p = {"w": np.array([2.0])}
    AdamW(p, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})
    np.testing.assert_allclose(p["w"], [2.0 * (1 - 0.05)])     # zero gradient: only the decay acts


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sgd", "adam", "adam_wd", "adamw"])
def test_optimizers_match_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4))
    ours = {"w": w0.copy()}
    tw = torch.tensor(w0.copy(), requires_grad=True)
    make = {
        "sgd": (lambda: SGD(ours, lr=0.05, momentum=0.9, weight_decay=0.01),
                lambda: torch.optim.SGD([tw], lr=0.05, momentum=0.9, weight_decay=0.01)),
        "adam": (lambda: Adam(ours, lr=0.01), lambda: torch.optim.Adam([tw], lr=0.01)),
        "adam_wd": (lambda: Adam(ours, lr=0.01, weight_decay=0.1),
                    lambda: torch.optim.Adam([tw], lr=0.01, weight_decay=0.1)),
        "adamw": (lambda: AdamW(ours, lr=0.01, weight_decay=0.1),
                  lambda: torch.optim.AdamW([tw], lr=0.01, weight_decay=0.1)),
    }[name]
    opt, topt = make[0](), make[1]()
    for _ in range(5):
        g = rng.standard_normal((3, 4))
        opt.step({"w": g})
        tw.grad = torch.from_numpy(g.copy())
        topt.step()
    np.testing.assert_allclose(ours["w"], tw.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_bad_learning_rate():
    with pytest.raises(ValueError, match="learning rate"):
        Adam({"w": np.zeros(1)}, lr=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["adam", "adam_l2", "adamw"])
def test_fused_adam_is_bitwise_the_numpy_adam(monkeypatch, dtype, kind):
    """The compiled Adam update (one call for all the arrays) gives the NumPy lines' results to the bit, so seeded
    training is the same with or without it; a non-contiguous parameter takes the NumPy lines."""
    pytest.importorskip("numba")
    from minilstm.optim import compiled_passes
    rng = np.random.default_rng(1)
    shapes = {"W": (7, 12), "b": (12,), "s": (1,)}
    start = {k: (rng.standard_normal(s) * 0.3).astype(dtype) for k, s in shapes.items()}
    grads = [{k: (rng.standard_normal(s) * 10.0 ** rng.integers(-6, 3)).astype(dtype) for k, s in shapes.items()}
             for _ in range(12)]
    make = {"adam": lambda p: Adam(p, lr=3e-3), "adam_l2": lambda p: Adam(p, lr=3e-3, weight_decay=0.05),
            "adamw": lambda p: AdamW(p, lr=3e-3, weight_decay=0.05)}[kind]
    results = []
    for env in ("", "1"):
        monkeypatch.setenv("MINILSTM_NUMPY_OPTIM", env)
        params = {k: v.copy() for k, v in start.items()}
        W = params["W"]
        assert (compiled_passes([W], [grads[0]["W"]], [W], [W]) is None) == (env == "1")
        opt = make(params)
        for g in grads:
            opt.step(g)
        results.append((params, opt.m, opt.v))
    for a, b in zip(results[0], results[1]):
        for k in shapes:
            assert a[k].dtype == dtype
            np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(results[0][0]["W"], start["W"])
    monkeypatch.setenv("MINILSTM_NUMPY_OPTIM", "")
    strided = {"W": np.asfortranarray(start["W"])}                 # not C-contiguous: the NumPy lines
    assert compiled_passes([strided["W"]], [grads[0]["W"]], [strided["W"]], [strided["W"]]) is None
    W = start["W"]                                                 # arrays that go together differ in shape or length
    assert compiled_passes([W], [W[:, :6].copy()]) is None
    assert compiled_passes([W, start["b"]], [W]) is None
    Adam(strided, lr=3e-3).step({"W": grads[0]["W"]})
    assert np.isfinite(strided["W"]).all()
