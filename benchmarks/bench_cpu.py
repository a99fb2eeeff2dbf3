"""CPU benchmark: minilstm-numpy, minilstm-numba and torch.nn.LSTM, side by side, in one process.

    python benchmarks/bench_cpu.py            # all configs, 20 repeats x 3 processes, fit epoch, JIT cost
    python benchmarks/bench_cpu.py --quick    # 5 repeats, seed + small only (a smoke run)

Each config runs in several fresh processes (--processes, default 3): on a small, noisy
machine timings drift between processes and seed-sized runs can be bimodal per process.
Every figure is the median over processes, the ratio's range over processes is printed,
and the matrix-product floor is the fastest process.

float32, 2 threads on every side. For each config: the training step (forward, MSE on a
linear head over the last hidden state, full BPTT) and inference, median of the repeats
after warm-up, the achieved GFLOP/s of the matrix products, and the ratio to PyTorch
(< 1 means minilstm is faster). Also: one epoch of ``LSTMModel.fit`` on the demo data
against an equivalent PyTorch training loop, and Numba's first-call JIT cost with a cold
and with a warm cache. Results go to benchmarks/results/cpu.{json,md,png}.

Fairness: with glibc's default malloc settings PyTorch takes 10^3-10^5 page faults per
step. The script re-executes itself with MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ set (same process, so both sides get them) and says so.
Some machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) to steer old OpenBLAS builds
away from kernels that fail there; they pin a current NumPy to slower kernels (Haswell
instead of SkylakeX on an AVX-512 CPU). The re-executed benchmark process drops both
and prints which OpenBLAS kernel NumPy then runs (tests and CI keep the environment as is).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CONFIGS, machine_description, make_minilstm_step, markdown_table, matmul_flops,  # noqa: E402
                    matmul_floor, median_ms, write_results)

MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}
THREADS = 2


DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def ensure_env():
    if any(os.environ.get(k) != v for k, v in MALLOC.items()) or any(k in os.environ for k in DROP):
        env = {k: v for k, v in os.environ.items() if k not in DROP}
        env.update(MALLOC)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def blas_kernel():
    """The OpenBLAS core NumPy runs (openblas_get_corename), or 'unknown'."""
    try:
        cfg = np.show_config(mode="dicts")
        name = cfg["Build Dependencies"]["blas"].get("name", "")
    except Exception:
        name = ""
    try:
        import ctypes
        import glob
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
        lib = ctypes.CDLL(libs[0])
        for sym in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
            if hasattr(lib, sym):
                f = getattr(lib, sym)
                f.restype = ctypes.c_char_p
                return f"{name} {f().decode()}".strip()
    except Exception:
        pass
    return name or "unknown"


def time_fn(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def torch_step(torch, B, T, D, H, L, seed=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(D, H, num_layers=L, batch_first=True)
    head = torch.nn.Linear(H, 1)
    g = np.random.default_rng(seed)
    x = torch.from_numpy(g.standard_normal((B, T, D)).astype(np.float32))
    y = torch.from_numpy(g.standard_normal((B, 1)).astype(np.float32))
    params = list(lstm.parameters()) + list(head.parameters())

    def train_step():
        for p in params:
            p.grad = None
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()

    def infer():
        with torch.no_grad():
            out, _ = lstm(x)
            return head(out[:, -1])

    return train_step, infer


def bench_configs_in_processes(names, repeats, processes):
    """Each config timed in ``processes`` fresh processes (this machine's timings can be bimodal per
    process); every figure is the median over processes, and the spread of the ratio is kept."""
    import json
    rows = []
    for name in names:
        runs = []
        for _ in range(processes):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", name, "--repeats", str(repeats)],
                                 check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        row = {"config": name, "shape": runs[0]["shape"], "processes": processes}
        for k in runs[0]:
            if k not in ("config", "shape"):
                vals = sorted(r[k] for r in runs)
                # a floor is a lower bound: the fastest process; everything else: the median process
                row[k] = float(vals[0]) if k.startswith("floor_") else float(np.median(vals))
                if k.endswith("_ratio"):
                    row[k + "_range"] = [vals[0], vals[-1]]
        for mode in ("train", "infer"):
            row[f"numba_{mode}_over_floor"] = row[f"numba_{mode}_ms"] / row[f"floor_{mode}_ms"]
        rows.append(row)
        print(f"  {name:<7} {','.join(map(str, row['shape']))}: numba/torch train {row.get('numba_train_ratio', 0):.2f}x "
              f"(range {row.get('numba_train_ratio_range', [0, 0])[0]:.2f}-{row.get('numba_train_ratio_range', [0, 0])[1]:.2f}),"
              f" infer {row.get('numba_infer_ratio', 0):.2f}x over {processes} processes", flush=True)
    return rows


def bench_configs(torch, names, repeats):
    rows = []
    for name in names:
        B, T, D, H, L = CONFIGS[name]
        r = {"config": name, "shape": [B, T, D, H, L]}
        sides = {"numpy": make_minilstm_step(B, T, D, H, L, "numpy"),
                 "numba": make_minilstm_step(B, T, D, H, L, "numba"),
                 "floor": (matmul_floor(B, T, D, H, L, True), matmul_floor(B, T, D, H, L, False))}
        if torch is not None:
            sides["torch"] = torch_step(torch, B, T, D, H, L)
        for mode, i in (("train", 0), ("infer", 1)):
            # interleave the sides so slow drifts of this noisy machine hit all of them alike
            times = {s: [] for s in sides}
            for s, fns in sides.items():
                time_fn(fns[i], 0, warmup=3)
            for _ in range(repeats):
                for s, fns in sides.items():
                    times[s] += time_fn(fns[i], 1, warmup=0)
            flops = matmul_flops(B, T, D, H, L, mode == "train")
            for s in sides:
                ms = median_ms(times[s])
                r[f"{s}_{mode}_ms"] = ms
                r[f"{s}_{mode}_gflops"] = flops / (ms * 1e-3) / 1e9
            r[f"numba_{mode}_over_floor"] = r[f"numba_{mode}_ms"] / r[f"floor_{mode}_ms"]
            if torch is not None:
                for s in ("numpy", "numba", "floor"):
                    r[f"{s}_{mode}_ratio"] = r[f"{s}_{mode}_ms"] / r[f"torch_{mode}_ms"]
        rows.append(r)
        print(f"  {name:<7} {B},{T},{D},{H},{L}: " + "  ".join(
            f"{s} train {r[f'{s}_train_ms']:.2f} ms / infer {r[f'{s}_infer_ms']:.2f} ms" for s in sides), flush=True)
    return rows


def bench_fit_epoch(torch, repeats=3):
    """One epoch of LSTMModel.fit on the demo data vs the same loop written in PyTorch."""
    from minilstm import LSTMModel, datasets
    from minilstm.forecast.demo import DEMO_CONFIG
    ds = datasets.load_electricity()
    cut = ds.split("2014-01-01")
    X, y = ds.data[:cut], ds.column("Demand")[:cut]
    cfg = dict(DEMO_CONFIG, epochs=1, device="cpu", patience=None, lr_schedule=None)
    LSTMModel(dict(cfg, epochs=1)).fit(X[:500], y[:500], verbose=False)      # JIT warm-up
    ours = []
    for _ in range(repeats):
        m = LSTMModel(cfg)
        t = time.perf_counter()
        m.fit(X, y, validation_split=0.1, verbose=False)
        ours.append(time.perf_counter() - t)
    res = {"minilstm_epoch_s": min(ours), "windows": m.info["n_train_windows"]}
    if torch is None:
        return res
    # the same windows, normalization, model, Adam, clipping, batch size and validation pass, in PyTorch
    L, H, B = cfg["sequence_length"], cfg["hidden_size"], cfg["batch_size"]
    theirs = []
    for _ in range(repeats):
        t = time.perf_counter()
        mu, sd = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1)
        Xn = ((X - mu) / sd).astype(np.float32)
        yn = ((y - y.mean()) / y.std()).astype(np.float32)
        W = np.lib.stride_tricks.sliding_window_view(Xn, L, axis=0).transpose(0, 2, 1)[:len(X) - L]
        Y = yn[L:]
        n_val = round(len(W) * 0.1)
        Xtr, Ytr = torch.from_numpy(np.ascontiguousarray(W[:-n_val])), torch.from_numpy(Y[:-n_val, None])
        Xva, Yva = torch.from_numpy(np.ascontiguousarray(W[-n_val:])), torch.from_numpy(Y[-n_val:, None])
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(X.shape[1], H, num_layers=cfg["num_layers"], dropout=cfg["dropout"], batch_first=True)
        head = torch.nn.Linear(H, 1)
        params = list(lstm.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=cfg["learning_rate"])
        perm = torch.from_numpy(np.random.default_rng(0).permutation(len(Xtr)))
        for s in range(0, len(perm), B):
            idx = perm[s:s + B]
            opt.zero_grad()
            out, _ = lstm(Xtr[idx])
            loss = torch.nn.functional.mse_loss(head(out[:, -1]), Ytr[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        with torch.no_grad():
            lstm.eval()
            torch.nn.functional.mse_loss(head(lstm(Xva)[0][:, -1]), Yva)
        theirs.append(time.perf_counter() - t)
    res["torch_epoch_s"] = min(theirs)
    res["ratio"] = res["minilstm_epoch_s"] / res["torch_epoch_s"]
    return res


JIT_PROBE = ("import time; t=time.perf_counter(); import numpy as np, minilstm; "
             "l=minilstm.LSTM(3,4,kernels='numba',dtype={dt}); o,_=l.forward(np.zeros((2,3,3))); l.backward(o); "
             "print(time.perf_counter()-t)")


def bench_jit():
    """First forward+backward in a fresh process: with an empty Numba cache, then with the cache warm."""
    res = {}
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        for label in ("cold", "warm"):
            out = [float(subprocess.run([sys.executable, "-c", JIT_PROBE.format(dt=dt)], env=env, check=True,
                                        capture_output=True, text=True).stdout) for dt in ("'float32'", "'float64'")]
            res[f"{label}_cache_s"] = sum(out)
    base = float(subprocess.run([sys.executable, "-c", JIT_PROBE.replace("numba", "numpy").format(dt="'float32'")],
                                check=True, capture_output=True, text=True).stdout)
    res["import_and_first_call_numpy_s"] = base
    return res


def chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [r["config"] for r in rows]
    for ax, mode in zip(axes, ("train", "infer")):
        w = 0.38
        xs = np.arange(len(rows))
        for k, s in enumerate(("numpy", "numba")):
            ax.bar(xs + (k - 0.5) * w, [r.get(f"{s}_{mode}_ratio", np.nan) for r in rows], w, label=f"minilstm-{s}")
        ax.axhline(1.0, color="black", lw=1, ls="--", label="PyTorch = 1")
        ax.set_xticks(xs, names)
        ax.set_ylabel("time / PyTorch time (lower is faster)")
        ax.set_title(f"{'training step' if mode == 'train' else 'inference'} (float32, CPU, 2 threads)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 repeats, seed and small configs, no fit/JIT")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--configs", nargs="*", default=None, choices=list(CONFIGS))
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per config (median reported)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    ensure_env()
    if args.worker:                       # one config in this process; the parent collects the JSON line
        import json
        try:
            import torch
            torch.set_num_threads(THREADS)
        except ImportError:
            torch = None
        row = bench_configs(torch, [args.worker], args.repeats)[0]
        print(json.dumps(row))
        return
    try:
        import torch
        torch.set_num_threads(THREADS)
        tver = torch.__version__
    except ImportError:
        torch, tver = None, None
        print("NOTICE: PyTorch is not installed: its columns are skipped (pip install torch==2.13.0, CPU build).")
    repeats = args.repeats or (5 if args.quick else 20)
    names = args.configs or (["seed", "small"] if args.quick else list(CONFIGS))
    machine = machine_description()
    print(f"machine: {machine}; torch {tver}; {THREADS} threads; float32; median of {repeats}\n"
          f"malloc: {', '.join(f'{k}={v}' for k, v in MALLOC.items())} (set for both sides); "
          f"NumPy BLAS kernel: {blas_kernel()}")
    rows = bench_configs_in_processes(names, repeats, args.processes)
    results = {"machine": machine, "blas": blas_kernel(), "torch": tver, "threads": THREADS, "repeats": repeats,
               "processes": args.processes, "malloc": MALLOC,
               "configs": rows}
    full = not args.quick and args.configs is None
    if full:
        print("  fit epoch on the demo data ...", flush=True)
        results["fit_epoch"] = bench_fit_epoch(torch)
        print("  Numba JIT cost ...", flush=True)
        results["jit"] = bench_jit()
    hdr = ["config (B,T,D,H,L)", "train numpy ms", "train numba ms", "train torch ms", "numba/torch train",
           "numba GFLOP/s", "products alone ms (numba/floor)", "infer numpy ms", "infer numba ms", "infer torch ms",
           "numba/torch infer"]
    tab = []
    for r in rows:
        f = lambda k, fmt="{:.2f}": fmt.format(r[k]) if k in r else "n/a"  # noqa: E731
        tab.append([f"{r['config']} ({','.join(map(str, r['shape']))})", f("numpy_train_ms"), f("numba_train_ms"),
                    f("torch_train_ms"), f"**{r['numba_train_ratio']:.2f}x** ({r['numba_train_ratio_range'][0]:.2f}-{r['numba_train_ratio_range'][1]:.2f})" if "numba_train_ratio" in r else "n/a", f("numba_train_gflops", "{:.0f}"),
                    f"{r['floor_train_ms']:.2f} ({r['numba_train_over_floor']:.2f}x)",
                    f("numpy_infer_ms"), f("numba_infer_ms"), f("torch_infer_ms"), f"**{r['numba_infer_ratio']:.2f}x** ({r['numba_infer_ratio_range'][0]:.2f}-{r['numba_infer_ratio_range'][1]:.2f})" if "numba_infer_ratio" in r else "n/a"])
    md = [f"Measured on {machine} (NumPy BLAS: {results['blas']}); PyTorch {tver} (CPU build); {THREADS} threads each; float32; "
          f"median of {repeats} interleaved repeats in each of {args.processes} fresh processes, then the median over "
          "processes (the range of the ratio over processes in brackets); malloc thresholds set for both sides.", "",
          markdown_table(hdr, tab), "",
          "\"products alone\": the same sequence of matrix products that minilstm's design issues, timed alone "
          "(the floor of the design; the fastest process); numba/floor is how far the whole step is above it."]
    if "fit_epoch" in results:
        fe = results["fit_epoch"]
        md += ["", f"One training epoch on the demo data ({fe['windows']} windows, 2x64 LSTM, batch 64): "
               f"minilstm {fe['minilstm_epoch_s']:.2f} s" + (
                   f", PyTorch {fe['torch_epoch_s']:.2f} s, ratio **{fe['ratio']:.2f}x**" if "ratio" in fe else "")]
        j = results["jit"]
        md += [f"Numba JIT, first forward+backward in a new process (float32 + float64): cold cache "
               f"{j['cold_cache_s']:.2f} s, warm cache {j['warm_cache_s']:.2f} s (NumPy path, import and first call: "
               f"{j['import_and_first_call_numpy_s']:.2f} s)."]
    text = "\n".join(md)
    out = write_results(results, "cpu" if full else "cpu_partial", text, lambda p: chart(rows, p))
    print("\n" + text + f"\n\nwritten to {out}/")


if __name__ == "__main__":
    main()
