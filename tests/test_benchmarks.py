"""The benchmark scripts' CPU-side logic (no timing assertions: timings belong in the benchmarks)."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks")
sys.path.insert(0, HERE)


def test_flop_count_and_gpu_table_formatting():
    import bench_gpu
    from common import matmul_flops
    assert matmul_flops(1, 1, 1, 1, 1, False) == 2 * 4 * 2
    assert matmul_flops(2, 3, 4, 5, 2, True) == 3 * (2 * 2 * 3 * 20 * 9 + 2 * 2 * 3 * 20 * 10)
    rows = [{"config": "seed", "shape": [32, 20, 10, 64, 2], "torch_fwd_ms": 0.2, "minilstm_fwd_ms": 0.3,
             "torch_train_ms": 1.0, "minilstm_train_ms": 0.5}]
    table = bench_gpu.format_table(rows, "Test GPU")
    assert "Test GPU" in table and "**1.50x**" in table and "**0.50x**" in table
    args = bench_gpu.parse_args(["--repeats", "31", "--configs", "seed", "huge"])
    assert args.repeats == 31 and args.configs == ["seed", "huge"]
    with pytest.raises(SystemExit):
        bench_gpu.parse_args(["--repeats", "0"])


def test_gpu_benchmark_exits_cleanly_without_a_gpu():
    from minilstm.backend import cupy_available
    if cupy_available:
        pytest.skip("a GPU is present")
    r = subprocess.run([sys.executable, os.path.join(HERE, "bench_gpu.py"), "--configs", "seed"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "NOTICE" in r.stdout


def test_minilstm_step_closure_runs():
    from common import make_minilstm_step
    train, infer = make_minilstm_step(2, 3, 4, 5, 2, "numpy")
    grads = train()
    assert set(grads) == {f"l{k}.{n}" for k in range(2) for n in ("W_x", "W_h", "b")}
    assert infer().shape == (2, 1)


def test_cpu_benchmark_alternates_fresh_processes_and_takes_ratio_of_medians(monkeypatch):
    import bench_cpu
    calls = []
    res = bench_cpu.rounds_of(["a", "b", "c"], 3, lambda s: calls.append(s) or s)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]        # the order rotates every round
    assert res == {"a": ["a"] * 3, "b": ["b"] * 3, "c": ["c"] * 3}
    s = bench_cpu.summarize([[0.001, 0.003, 0.002], [0.004, 0.004, 0.005]], ref=[[0.002] * 3, [0.002] * 3])
    assert s["process_ms"] == [2.0, 4.0] and s["ms"] == 3.0 and s["ratio_rounds"] == [1.0, 2.0]
    env = bench_cpu.bench_env()
    assert "OPENBLAS_CORETYPE" not in env and env["MALLOC_MMAP_THRESHOLD_"] == str(1 << 30)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "5")
    monkeypatch.setattr(bench_cpu, "SET_MALLOC", False)              # --default-malloc: a user's process
    assert not set(bench_cpu.MALLOC) & set(bench_cpu.bench_env())
    assert bench_cpu.parse_args(["--default-malloc"]).default_malloc
    with pytest.raises(SystemExit):
        bench_cpu.parse_args(["--rounds", "0"])


def test_cpu_benchmark_worker_runs_one_side_alone():
    r = subprocess.run([sys.executable, os.path.join(HERE, "bench_cpu.py"), "--worker", "step", "numpy", "small",
                        "float32", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import json
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(out["train_s"]) == 2 and len(out["infer_s"]) == 2 and min(out["train_s"]) > 0


def test_accuracy_benchmark_quick_task_pairs_seeds_and_reports():
    pytest.importorskip("torch")
    import bench_accuracy as ba
    t = ba.run_task("tiny", [0, 1], ["minilstm", "torch"], dict(ba.BASE, epochs=1))
    m, p = t["sides"]["minilstm"], t["sides"]["torch"]
    assert len(m["rmse"]["values"]) == 2 and len(p["rmse"]["values"]) == 2
    ratios = [a / b for a, b in zip(m["rmse"]["values"], p["rmse"]["values"])]
    assert m["paired_rmse_ratio"]["values"] == pytest.approx(ratios)
    assert set(t["baselines"]) >= {"persistence", "seasonal_naive", "linear_ar"}
    text = ba.report({"tasks": [t], "seeds": [0, 1], "base": ba.BASE, "machine": "test"})
    assert "| tiny | minilstm |" in text and "paired RMSE ratio" in text
    # the test rows start L + h - 1 rows before the first scored target
    (Xtr, _), (Xte, _) = ba.split_rows(np.arange(100.0)[:, None], np.arange(100.0), 80, 10, 3)
    assert len(Xtr) == 80 and Xte[0, 0] == 80 - 10 - 3 + 1


def test_demo_seed_table_reports_mean_and_range_over_seeds():
    import bench_demo_seeds as bd
    base = {"persistence": {"rmse": 278.4, "mae": 213.2, "mape": 4.72, "r2": 0.899}}
    runs = [{"seed": s, "rmse": v, "mae": v / 2, "mape": 1.0, "r2": 0.99, "season": 24, "baselines": base}
            for s, v in ((0, 70.0), (1, 80.0), (2, 90.0))]
    text = bd.table(runs)
    assert "**80.0 (70.0-90.0)**" in text and "seeds 0, 1, 2" in text and "| persistence | 278.4 |" in text


def test_gru_and_bidirectional_steps_run_like_their_torch_peers():
    from common import make_minilstm_step
    grads = make_minilstm_step(2, 3, 4, 5, 1, "numpy", cell="gru")[0]()
    assert set(grads) == {"l0.W_x", "l0.W_h", "l0.b_x", "l0.b_h"}
    train, infer = make_minilstm_step(2, 3, 4, 5, 1, "numpy", cell="bilstm")
    assert {"l0.W_x", "l0_reverse.W_x"} <= set(train()) and infer().shape == (2, 1)


# ---- bench_peers: the rolling-origin protocol, its metrics and the quick run ----------------------------
def test_peers_protocol_split_origins_and_window():
    import bench_peers as bp
    assert bp.test_size(100, 10) == 20 and bp.test_size(72, 12) == 24 and bp.test_size(240, 12) == 48
    assert bp.forecast_origins(48, 72, 12) == list(range(48, 61))               # 13 origins, targets inside
    assert bp.forecast_origins(2688, 3024, 24, 24) == list(range(2688, 3001, 24))
    assert bp.choose_window(48, 12, [12], 20) == 12          # capped: the window and its targets fit twice
    assert bp.choose_window(192, 12, [12], 20) == 24         # two seasons
    assert bp.choose_window(2688, 24, [24, 168], 20) == 48
    assert bp.choose_window(1096, 14, [365], 20) == 20       # a yearly season of daily data is not in the window
    assert bp.choose_window(80, 10, [1], 20) == 20
    with pytest.raises(ValueError, match="shorter than two windows.*--horizon"):
        bp.choose_window(19, 8, [1], 20)
    with pytest.raises(ValueError, match="longer than the test span.*shorter horizon"):
        bp.Series("short", np.arange(12.0), "other", [1], 10)
    with pytest.raises(ValueError, match="missing or infinite"):
        bp.Series("nan", np.r_[np.arange(50.0), np.nan], "other", [1], 5)
    sp = bp.Series("toy", np.arange(60.0), "quarterly", [4], 8)
    assert (sp.n_train, sp.W, len(sp.origins)) == (44, 14, 9)             # W capped at 44 // 2 - 8
    assert sp.truth.shape == (9, 8) and sp.truth[0, 0] == 44 and sp.truth[-1, -1] == 59


def test_peers_metrics_by_hand_and_seasonal_naive_mase_is_one_in_sample():
    import bench_peers as bp
    y = np.array([1.0, 2, 3, 4, 2, 3, 4, 5])
    scale, m, note = bp.mase_scale(y, 4)
    assert (scale, m, note) == (1.0, 4, None)                # |2-1|, |3-2|, |4-3|, |5-4|
    r = bp.score(np.array([[2.0, 2.0], [0.0, 6.0]]), np.array([[1.0, 3.0], [0.0, 4.0]]), scale)
    assert r["mae"] == pytest.approx(1.0) and r["rmse"] == pytest.approx(np.sqrt(1.5))
    assert r["mase"] == pytest.approx(1.0) and r["bias"] == pytest.approx(0.5) and r["mae_by_step"] == [0.5, 1.5]
    z = np.random.default_rng(0).standard_normal(50).cumsum()
    for m in (1, 4, 12):                                     # the seasonal naive on its own training rows: MASE 1
        s, _, _ = bp.mase_scale(z, m)
        assert bp.score(z[None, :-m], z[None, m:], s)["mase"] == pytest.approx(1.0)
    s, m, note = bp.mase_scale(np.tile([1.0, 2, 3, 4], 3), 4)   # constant seasons: the naive scale, said
    assert (s, m) == (pytest.approx(15 / 11), 1) and "naive scale" in note   # nine steps of 1, two of 3
    s, m, note = bp.mase_scale(np.zeros(10), 4)                  # all zero: MASE skipped, said
    assert s is None and "skipped" in note
    assert bp.score(np.ones((1, 2)), np.zeros((1, 2)), None)["mase"] is None
    s, m, note = bp.mase_scale(np.arange(6.0), 12)               # shorter than a season: the naive scale
    assert (s, m) == (1.0, 1) and "not longer than the season" in note


def test_peers_minilstm_forecasts_read_only_the_rows_before_each_origin():
    import bench_peers as bp

    from minilstm import LSTMModel
    y = np.sin(np.arange(80) / 3.0) + 0.01 * np.arange(80)
    model = LSTMModel({"hidden_size": 4, "num_layers": 1, "epochs": 1, "sequence_length": 5, "output_steps": 3,
                       "device": "cpu", "kernels": "numpy"}).fit(y[:50], verbose=False)
    origins = [50, 51, 55, 77]
    P = bp.minilstm_forecasts(model, y, origins, 3)
    assert P.shape == (4, 3)
    for k, o in enumerate(origins):
        spoiled = y.copy()
        spoiled[o:] = 1e6                                    # every target from the origin on
        assert np.allclose(bp.minilstm_forecasts(model, spoiled, [o], 3)[0], P[k], rtol=1e-5, atol=1e-6)
        assert np.allclose(model.forecast(y[:o]), P[k])


def test_peers_statsforecast_side_fits_once_then_forecasts_from_each_origin():
    pytest.importorskip("statsforecast")
    import bench_peers as bp
    from statsforecast.models import AutoETS, SeasonalNaive
    y = 10 + np.sin(np.arange(60) * np.pi / 2) + 0.1 * np.arange(60)
    origins = [40, 42, 44, 46]
    P = bp.stats_forecasts(SeasonalNaive(season_length=4), y, origins, 3, 2)
    assert np.allclose(P, [y[o - 4:o - 1] for o in origins])         # hand-checked: last season repeated
    P = bp.stats_forecasts(AutoETS(season_length=4), y, origins, 3, 2)
    fitted = AutoETS(season_length=4).fit(y[:40])                     # fitted once, on the rows before origin 1
    assert np.allclose(P[0], fitted.predict(3)["mean"])
    for k, o in enumerate(origins):                                   # then applied to each origin's history
        assert np.allclose(P[k], fitted.forward(y[:o], h=3)["mean"])


def test_peers_summary_report_and_reference_merge(tmp_path):
    import json

    import bench_peers as bp

    def entry(vals, sec=1.0):
        return {k: bp.spread(list(v)) for k, v in (("rmse", vals), ("mae", vals), ("mase", vals), ("bias", vals),
                                                   ("seconds", [sec] * len(vals)))}
    s = {"series": "toy", "H": 4, "n": 40, "n_train": 30, "stride": 1, "W": 20, "mase_m": 4, "n_origins": 7,
         "notes": [], "skipped": {"AutoARIMA": "skipped: test"},
         "methods": {"minilstm": entry([2.0, 3.0, 4.0]), "AutoETS": entry([1.5]), "MSTL": entry([1.0])}}
    ref = {"series": [dict(s, methods={"darts_lstm": entry([4.0, 4.0]), "AutoETS": entry([9.0]),
                                       "minilstm": entry([6.0, 6.0, 6.0])})]}
    (tmp_path / "peers.json").write_text(json.dumps(ref))
    bp.merge_reference([s], str(tmp_path / "peers.json"), log=lambda m: None)
    assert s["methods"]["darts_lstm"]["from"] == "peers.json" and "from" not in s["methods"]["AutoETS"]
    s["summary"] = bp.series_summary(s)
    assert s["summary"]["best_stat"] == "MSTL" and s["summary"]["ratio_to_best_stat"] == pytest.approx(3.0)
    assert s["summary"]["beats_darts"] and s["summary"]["ratio_to_darts"] == pytest.approx(0.75)
    assert s["summary"]["ratio_to_reference_minilstm"] == pytest.approx(0.5)      # an ablation against the defaults
    res = {"command": "python benchmarks/bench_peers.py --test", "machine": "m", "versions": "v", "seeds": [0, 1, 2],
           "epochs": 100, "minilstm_config": {}, "series": [s], "summary": bp.overall_summary([s])}
    assert res["summary"]["median_ratio_to_best_stat"] == pytest.approx(3.0) and res["summary"]["beats_darts"] == 1
    text = bp.report(res)
    assert text.startswith("Command: `python benchmarks/bench_peers.py --test`")
    assert "| toy | 4 | 4 | 20 | 7 | 3.000 (2.000-4.000) | 4.000 (4.000-4.000)* |" in text
    assert "**3.00x** (MSTL)" in text and "**win** (0.75x)" in text and "AutoARIMA skipped: test" in text
    assert "| **win** (0.75x) | 0.50 |" in text and "median **0.500x**, lower on 1 of 1" in text
    args = bp.parse_args(["--minilstm-config", '{"hidden_size": 32}', "--label", "h32", "--sides", "minilstm"])
    assert args.minilstm_config == {"hidden_size": 32} and args.label == "h32" and args.sides == ["minilstm"]
    assert bp.parse_args(["--skip", "victoria"]).series == [n for n in bp.SERIES if n != "victoria"]
    for bad in (["--minilstm-config", "[1]"], ["--minilstm-config", "{x"], ["--series", "nope"], ["--label", "a/b"],
                ["--skip", "nope"]):
        with pytest.raises(SystemExit):
            bp.parse_args(bad)


def test_peers_quick_run_writes_its_results(tmp_path):
    pytest.importorskip("statsforecast")
    import json

    import bench_peers as bp
    r = subprocess.run([sys.executable, os.path.join(HERE, "bench_peers.py"), "--quick", "--results-dir",
                        str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((tmp_path / "peers_quick.json").read_text())
    assert [s["series"] for s in res["series"]] == bp.QUICK_SERIES and res["seeds"] == [0]
    assert (tmp_path / "peers_quick.png").stat().st_size > 0
    assert (tmp_path / "peers_quick.md").read_text().startswith("Command: `python benchmarks/bench_peers.py --quick ")
    for s in res["series"]:
        assert {"minilstm", "SeasonalNaive", "AutoETS", "AutoARIMA"} <= set(s["methods"])
        assert "MSTL" in s["skipped"] and s["n_origins"] == s["n"] - s["n_train"] - s["H"] + 1
        for e in s["methods"].values():
            assert set(e) >= {"rmse", "mae", "mase", "bias", "seconds"}
            assert e["mase"]["mean"] == pytest.approx(e["mae"]["mean"] / s["mase_scale"])
            assert len(e["mae_by_step"]) == s["H"]
        best = min(s["methods"][k]["mase"]["mean"] for k in bp.BEST_OF if k in s["methods"])
        assert s["summary"]["ratio_to_best_stat"] == pytest.approx(s["methods"]["minilstm"]["mase"]["mean"] / best)
    assert res["summary"]["n_ratios"] == 3


def test_quantile_benchmark_quick_run_writes_its_tables(tmp_path):
    import json

    import bench_quantiles as bq
    res = bq.main(["--seeds", "0", "--train-days", "12", "--test-days", "2", "--members", "2", "--epochs", "1",
                   "--out", str(tmp_path)])
    run = res["runs"][0]
    assert run["n"] == 48 and 0.0 <= run["quantile"]["coverage"] <= 1.0 and 0.0 <= run["ensemble"]["coverage"] <= 1.0
    text = (tmp_path / "quantiles.md").read_text()
    assert "quantile model (0.1-0.9)" in text and "conformal" in text
    assert "Command: `python benchmarks/bench_quantiles.py" in text
    assert json.loads((tmp_path / "quantiles.json").read_text())["goal_met"].keys() == {"quantile", "ensemble"}


def test_future_benchmark_quick_run_writes_its_tables(tmp_path):
    import json

    import bench_future as bf
    res = bf.main(["--seeds", "0", "--train-days", "10", "--test-days", "3", "--epochs", "1", "--out", str(tmp_path)])
    run = res["runs"][0]
    assert run["known future"]["inputs"] == 8 + 7 * 24 and run["past only"]["inputs"] == 8
    assert run["past only"]["n_scored"] == run["known future"]["n_scored"] > 0      # the same target hours
    text = (tmp_path / "future.md").read_text()
    assert "Command: `python benchmarks/bench_future.py" in text and "upper bound" in text
    assert len(json.loads((tmp_path / "future.json").read_text())["rmse_ratios"]) == 1


# ---- bench_smoother: the 'ets' smoother alone by each criterion, on the peers' series and on held-out ones ----
def test_the_classic_set_loads_the_files_described_with_their_calendars():
    import bench_peers as bp
    here = os.path.join(HERE, "data", "heldout", "classic")
    with open(os.path.join(here, "SHA256SUMS")) as f:
        names = []
        for line in f:
            digest, name = line.split()
            names.append(name[:-4])
            with open(os.path.join(here, name), "rb") as data:
                assert hashlib.sha256(data.read()).hexdigest() == digest, name
    assert set(bp.CLASSIC) == set(names) | {"england_wales_demand"} and not set(bp.CLASSIC) & set(bp.SERIES)
    for name, (freq, seasons, H) in bp.CLASSIC.items():
        sp = bp.load_series(name)
        assert (sp.seasons, sp.H, sp.freq) == (seasons, H, freq) and len(sp.origins) >= 10 and sp.W >= 2, name
        assert (sp.index is None) == (freq == "other"), name
    assert bp.parse_args(["--set", "classic"]).compare_with == "peers_classic"


def test_smoother_benchmark_scores_what_the_model_forecasts_with_its_network_set_aside():
    import bench_peers as bp
    import bench_smoother as bs

    from minilstm import LSTMModel
    held = bs.heldout_series()
    assert len(held) == 18 and not {s.name for s in held} & set(bp.SERIES)        # none of the peers' series
    assert all(s.origins and s.W >= 2 for s in held)
    assert [s.m for s in held if "half-hourly" in s.name] == [48, 48]
    here = os.path.join(HERE, "data", "heldout")
    with open(os.path.join(here, "SHA256SUMS")) as f:                              # the files are those described
        for line in f:
            digest, name = line.split()
            with open(os.path.join(here, name), "rb") as data:
                assert hashlib.sha256(data.read()).hexdigest() == digest, name
    sp = bp.load_series("USAccDeaths")
    rows = bs.run([sp], with_ets=False, log=lambda m: None)
    pred, params = bs.smoother_forecasts(sp, "aicc")
    assert rows[0]["aicc"]["mase"] == pytest.approx(bp.score(pred, sp.truth, sp.scale)["mase"])
    cfg = {"output_steps": sp.H, "sequence_length": sp.W, "season": sp.m, "epochs": 1, "learning_rate": 1e-9, "seed": 0}
    model = LSTMModel(cfg).fit(sp.y[:sp.n_train], verbose=False)             # the network set aside: the smoother
    assert model.info["network_kept"] is False and model.info["baseline_ets"]["params"][0] == pytest.approx(params)
    np.testing.assert_allclose(bp.minilstm_forecasts(model, sp.y, sp.origins, sp.H), pred, rtol=1e-4)
    s = bs.summary(rows)
    aicc, mae = rows[0]["aicc"]["mase"], rows[0]["mae"]["mase"]
    assert s["n"] == 1 and s["aicc_over_mae"]["gmean"] == pytest.approx(aicc / mae)
    assert rows[0]["aicc_no_long"]["mase"] == rows[0]["aicc"]["mase"]          # no long season on a monthly series
    sun = bp.classic_series("sunspots_yearly")                                 # the error correction is kept there
    (on, p_on), (off, p_off) = bs.smoother_forecasts(sun, "aicc"), bs.smoother_forecasts(sun, "aicc", correct=False)
    assert "ar" in p_on and "ar" not in p_off and "error correction" in bs.describe(p_on)
    assert bp.score(on, sun.truth, sun.scale)["mase"] < 0.7 * bp.score(off, sun.truth, sun.scale)["mase"]
    assert "| USAccDeaths | 12 | 12 | 12 |" in bs.report({"peers": rows})
