"""Boundary checks found by the adversarial pass: kernels' contiguity, norms of integer and huge gradients, dtype
ranges, seeds, bounded work (ensemble size, sweep grids, n_jobs), ensemble levels, backtest settings, plots."""
import numpy as np
import pytest

from minilstm.errors import ConfigError, DataError, InputTypeError, ShapeError
from minilstm.forecast import LSTMEnsemble, backtest
from minilstm.forecast.parallel import run_parallel, task
from minilstm.forecast.tuning import sweep, trial_configs

CFG = {"hidden_size": 4, "num_layers": 1, "sequence_length": 5, "epochs": 1, "seed": 1}
X = np.random.default_rng(0).normal(size=(120, 1))
Y = X[:, 0]


# ---- kernels ------------------------------------------------------------------------------------------
def b1_args(H=4, T=3, dtype=np.float64):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(T, 1, 4 * H)).astype(dtype), rng.normal(size=(H, 4 * H)).astype(dtype),
            rng.normal(size=4 * H).astype(dtype), np.zeros((T + 1, 1, H), dtype), np.zeros((T + 1, 1, H), dtype),
            np.zeros((T, 1, 4 * H), dtype), np.zeros((T, 1, H), dtype), np.zeros((1, 4 * H), dtype)]


@pytest.mark.parametrize("which", ["fortran W_h", "strided hs"])
def test_forward_loop_b1_refuses_non_contiguous_arrays(which):
    from kernel_entries import forward_loop_b1
    args = b1_args()
    if which == "fortran W_h":
        args[1] = np.asfortranarray(args[1])
        assert not args[1].flags.c_contiguous
    else:
        args[3] = np.zeros((4, 1, 8))[:, :, ::2]
    with pytest.raises(ShapeError, match="C-contiguous"):
        forward_loop_b1(*args)


def test_forward_loop_b1_contiguous_matches_reference():
    from kernel_entries import forward_loop_b1
    args = b1_args()
    forward_loop_b1(*args)
    xw, W_h, b, hs = args[:4]
    h, c = np.zeros(4), np.zeros(4)
    for t in range(3):
        a = xw[t, 0] + h @ W_h + b
        f, i, g, o = 1 / (1 + np.exp(-a[:4])), 1 / (1 + np.exp(-a[4:8])), np.tanh(a[8:12]), 1 / (1 + np.exp(-a[12:]))
        c = f * c + i * g
        h = o * np.tanh(c)
    np.testing.assert_allclose(hs[-1, 0], h, rtol=1e-12)


def test_simd_products_are_checked_and_raw_ones_private():
    import kernel_entries

    from minilstm.kernels import simd
    A, W = np.ones((2, 3)), np.ones((3, 5))
    np.testing.assert_array_equal(kernel_entries.product(A, W), A @ W)
    np.testing.assert_array_equal(kernel_entries.product_nt(A, W.T.copy()), A @ W)
    for bad, err in (((A, np.ones((4, 5))), ShapeError), ((A, np.asfortranarray(W)), ShapeError),
                     ((A[:, ::2], np.ones((2, 5))), ShapeError), ((A.astype(int), W.astype(int)), InputTypeError),
                     ((A, W.astype(np.float32)), InputTypeError), ((0, W), ShapeError)):
        with pytest.raises(err):
            kernel_entries.product(*bad)
    with pytest.raises(TypeError):
        kernel_entries.product(1, 5, 3, 0, 3, 0, 5, 0, 5, 0.0)     # a raw-address call: a TypeError, not a segfault
    assert not hasattr(simd, "product") and hasattr(simd, "_product")     # the raw-address products are private


# ---- norms and dtypes ---------------------------------------------------------------------------------------
def test_global_norm_of_integers_and_of_huge_finite_gradients():
    from minilstm.optim import clip_grad_norm, global_norm
    assert global_norm({"a": np.array([2 ** 40, 2 ** 40], dtype=np.int64)}) == pytest.approx(2 ** 40 * 2 ** 0.5)
    g = {"a": np.array([1e200, -1e200]), "b": np.array([3e30], dtype=np.float32)}
    assert global_norm(g) == pytest.approx(2 ** 0.5 * 1e200)
    clipped, norm = clip_grad_norm(g, 1.0)
    assert np.isfinite(norm) and global_norm(clipped) == pytest.approx(1.0)
    assert np.isnan(global_norm({"a": np.array([np.nan, 1.0])}))
    assert global_norm({"a": np.array([np.inf, 1.0])}) == np.inf
    assert global_norm({"a": np.full(4, 1e-300)}) == pytest.approx(2e-300)          # squares underflow: scaled too


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_float32_layer_refuses_finite_values_beyond_its_range(cls):
    from minilstm import nn
    layer = getattr(nn, cls)(2, 3, dtype=np.float32)
    with pytest.raises(DataError, match="float32 range"):
        layer.forward(np.full((1, 2, 2), 1e39))
    assert np.isfinite(layer.forward(np.full((1, 2, 2), 1e30))[0]).all()


def test_a_torch_tensor_and_bad_seeds_get_minilstm_errors():
    torch = pytest.importorskip("torch")
    from minilstm.nn import LSTM
    with pytest.raises(InputTypeError, match="numpy()"):
        LSTM(2, 3).forward(torch.zeros(1, 2, 2, dtype=torch.float64))
    for seed in (-1, "abc", 1.5, True):
        with pytest.raises(ConfigError, match="seed"):
            LSTM(2, 3, seed=seed)


# ---- bounded work -------------------------------------------------------------------------------------------
def test_ensemble_size_is_capped_at_once():
    with pytest.raises(ConfigError, match="n_members"):
        LSTMEnsemble(CFG, n_members=10 ** 8)


def test_sweep_refuses_a_million_trial_grid_and_samples_it_lazily():
    grid = {"hidden_size": list(range(1, 101)), "epochs": list(range(1, 101)), "sequence_length": list(range(1, 101))}
    with pytest.raises(ConfigError, match="1,000,000 combinations"):
        sweep(grid, X, Y, verbose=False)
    trials, _ = trial_configs(grid, n_iter=5)              # random search over it: five draws, no grid in memory
    assert len(trials) == 5 and len({tuple(t.values()) for t in trials}) == 5
    with pytest.raises(ConfigError, match="fits"):
        sweep({"hidden_size": list(range(1, 101))}, X, Y, seeds=200, verbose=False)


def test_n_jobs_never_starts_more_workers_than_tasks():
    import time
    t0 = time.perf_counter()
    bt = backtest(CFG, X, Y, start=100, refit=False, n_jobs=1000, verbose=False)
    assert len(bt.folds) == 1 and time.perf_counter() - t0 < 60
    assert run_parallel([task(abs, -1), task(abs, -2)], n_jobs=500) == [1, 2]
    assert run_parallel([task(abs, -1)], n_jobs=-10_000) == [1]
    for bad in (10 ** 6, -10 ** 6, 0, 1.5):
        with pytest.raises(ConfigError, match="n_jobs"):
            run_parallel([task(abs, -1)], n_jobs=bad)
    with pytest.raises(ConfigError, match="backend"):
        run_parallel([task(abs, -1)], n_jobs=2, backend=3)


def test_the_documented_multiprocessing_backend_works():
    assert run_parallel([task(abs, -1), task(abs, -2)], n_jobs=2, backend="multiprocessing") == [1, 2]


# ---- ensembles ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, words", [
    ({"n_members": 2, "seeds": 5}, "list of 2 integers"),
    ({"n_members": 2, "seeds": [1.5, 2]}, "seeds[0]"),
    ({"n_members": 2, "seeds": [3, 3]}, "same config and seed"),
    ({"n_members": 2, "seeds": [-1, 2]}, "seeds[0]"),
    ({"member_configs": [{"seed": 5}, {}], "seeds": [4, 1]}, "in one place"),
])
def test_ensemble_seeds_are_checked(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        LSTMEnsemble(CFG, **kwargs)


def test_member_configs_keep_their_own_seeds():
    ens = LSTMEnsemble(CFG, member_configs=[{"seed": 5}, {"seed": 6}])
    assert [c["seed"] for c in ens.configs] == [5, 6]


@pytest.fixture(scope="module")
def ensemble():
    return LSTMEnsemble(CFG, n_members=2).fit(X, Y, verbose=False)


def test_ensemble_levels_and_steps_are_checked(ensemble):
    with pytest.raises(ConfigError, match="steps"):
        ensemble.quantiles(0.8, steps=0)
    for bad in ((), "0.8", [0.8, 1.5], [[0.8]], True):
        with pytest.raises(ConfigError, match="intervals"):
            ensemble.predict(X, intervals=bad)
    assert ensemble.evaluate(X, Y, levels=None, verbose=False)["intervals"] == {}
    assert set(ensemble.predict(X, intervals=np.float64(0.8))[1]) == {0.8}


# ---- backtest ---------------------------------------------------------------------------------------------------
def test_backtest_settings_that_were_silently_ignored_or_leaked_pandas_errors():
    import pandas as pd
    idx = pd.date_range("2020-01-01", periods=len(X), freq="h")
    with pytest.raises(ConfigError, match="window='sliding'"):
        backtest(CFG, X, Y, start=100, train_size=50, verbose=False)
    with pytest.raises(ConfigError, match="only 60 rows"):
        backtest(CFG, X, Y, start=60, window="sliding", train_size=80, verbose=False)
    with pytest.raises(ConfigError, match="time zone"):
        backtest(CFG, X, Y, start="2020-01-05 00:00+01:00", index=idx, verbose=False)
    with pytest.raises(ShapeError, match="one timestamp per row"):
        backtest(CFG, X, Y, start=100, index=idx[:5], verbose=False)
    with pytest.raises(DataError, match="not sorted"):
        backtest(CFG, X, Y, start="2020-01-05", index=idx[::-1], verbose=False)


def test_backtest_table_and_plot_errors(tmp_path):
    bt = backtest(CFG, X, Y, start=100, refit=False, verbose=False)
    with pytest.raises(ConfigError, match="table"):
        bt.table("foo")
    assert "MAE" in bt.table("mae")
    with pytest.raises(ConfigError, match="does not exist"):
        bt.plot(str(tmp_path / "missing" / "bt.png"))
    bt.plot(str(tmp_path / "bt.png"))
    assert (tmp_path / "bt.png").stat().st_size > 0


def test_sweep_seeds_and_random_state_are_checked():
    for kwargs in ({"seeds": 0}, {"seeds": []}, {"seeds": [1.5]}, {"random_state": -1}, {"random_state": "abc"}):
        with pytest.raises(ConfigError):
            sweep({"hidden_size": [2]}, X, Y, verbose=False, **kwargs)



# ---- normalizer, time order, gates, CLI -------------------------------------------------------------------------
def test_normalizer_matches_dataframe_columns_by_name():
    import pandas as pd

    from minilstm.forecast import DataNormalizer
    df = pd.DataFrame({"a": np.arange(10.0), "b": 100 + 7 * np.arange(10.0)})
    n = DataNormalizer("zscore").fit(df[["a", "b"]])
    swapped = n.transform(df[["b", "a"]])
    assert list(swapped.columns) == ["b", "a"]
    pd.testing.assert_frame_equal(swapped[["a", "b"]], n.transform(df[["a", "b"]]))
    pd.testing.assert_frame_equal(n.inverse_transform(swapped), df[["b", "a"]])
    with pytest.raises(DataError, match="missing"):
        n.transform(df.rename(columns={"a": "c"}))


@pytest.mark.parametrize("how", ["reversed", "duplicated"])
def test_fit_refuses_an_unsorted_or_duplicated_time_index(how):
    import pandas as pd

    from minilstm.forecast import LSTMModel
    df = pd.DataFrame({"a": np.sin(np.arange(100.0))}, index=pd.date_range("2020", periods=100, freq="D"))
    bad = df.iloc[::-1] if how == "reversed" else pd.concat([df.iloc[:50], df.iloc[49:]])
    with pytest.raises(DataError, match="sort" if how == "reversed" else "repeats"):
        LSTMModel(CFG).fit(bad, bad["a"], verbose=False)


@pytest.mark.parametrize("kwargs", [{"layer": 5}, {"layer": 1.5}, {"layer": "0"}, {"direction": True},
                                    {"direction": 2}])
def test_layer_gate_activations_check_layer_and_direction(kwargs):
    from minilstm.nn import GRU, LSTM
    for layer in (LSTM(2, 3, num_layers=2), GRU(2, 3, bidirectional=True)):
        layer.forward(np.ones((1, 2, 2)))
        with pytest.raises(ConfigError):
            layer.gate_activations(**kwargs)


@pytest.mark.parametrize("name, content, flag, words", [
    ("bad.json", b'{"hidden_size": ', "--config", "not valid JSON"),
    ("bin.json", b"\xff\xfe{}", "--config", "not UTF-8"),
    ("bin.csv", b"a,b\n\xff,1\n2,3\n", "data", "not UTF-8"),
    ("dates.csv", b"date\n2020-01-01\n2020-01-02\n2020-01-03\n", "data", "no data column"),
    ("folder.csv", None, "data", "is a folder"),
])
def test_cli_backtest_inputs_give_one_line_errors(tmp_path, capsys, name, content, flag, words):
    from minilstm.cli import main
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    argv = ["backtest", "electricity", "--config", str(path)] if flag == "--config" else ["backtest", str(path)]
    assert main(argv + ["--start", "0.9", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("B", [1, 4, 40])
def test_numba_backward_with_a_fortran_ordered_cache_equals_the_reference(B):
    from minilstm import core
    from minilstm.kernels import numba_cpu
    rng = np.random.default_rng(B)
    D, H = 3, 5
    p = {"W_x": rng.normal(size=(D, 4 * H)), "W_h": rng.normal(size=(H, 4 * H)), "b": rng.normal(size=4 * H)}
    x, G = rng.normal(size=(B, 6, D)), rng.normal(size=(B, 6, H))
    ref = core.lstm_forward(x, None, None, p)
    out = numba_cpu.lstm_forward(np.asfortranarray(x), None, None, {k: np.asfortranarray(v) for k, v in p.items()})
    cache = {k: np.asfortranarray(v) if isinstance(v, np.ndarray) and v.ndim >= 2 else v for k, v in out[2].items()}
    rb, nb = core.lstm_backward(G, None, None, ref[2]), numba_cpu.lstm_backward(np.asfortranarray(G), None, None, cache)
    for a, b in zip(nb[:3], rb[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for k in p:
        np.testing.assert_allclose(nb[3][k], rb[3][k], rtol=1e-10, atol=1e-12)


def test_fused_optimizer_passes_refuse_arrays_they_would_not_update_in_place():
    from minilstm.kernels import numba_optim
    F = [np.zeros((3, 4), order="F")]
    C = [np.zeros((3, 4))]
    with pytest.raises(ShapeError, match="C-contiguous"):
        numba_optim.adam_update(F, C, C, C, 0.1, 0.9, 0.999, 0.1, 0.001, 1e-8)
    with pytest.raises(ShapeError, match="C-contiguous"):
        numba_optim.average_update(F, C, 0.5)
    with pytest.raises(ShapeError, match="same length"):
        numba_optim.average_update(C, [], 0.5)
    p, w = [np.zeros((3, 4))], [np.ones((3, 4))]
    numba_optim.average_update(p, w, 0.5)
    np.testing.assert_array_equal(p[0], 0.5)


def test_raw_address_helpers_are_private():
    from minilstm.kernels import blas, simd
    assert not hasattr(blas, "gemm") and callable(blas._gemm)
    public = {n for n in dir(simd) if not n.startswith("_")}
    assert not {"product", "product_nt"} & public and {"_product", "_product_nt"} <= set(dir(simd))
