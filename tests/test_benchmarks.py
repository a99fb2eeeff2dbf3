"""The benchmark scripts' CPU-side logic (no timing assertions: timings belong in the benchmarks)."""
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks")
sys.path.insert(0, HERE)


def test_flop_count_and_gpu_table_formatting():
    from common import matmul_flops
    import bench_gpu
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
