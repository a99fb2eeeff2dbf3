"""CPU benchmark: minilstm-numba, minilstm-numpy, the matrix-product floor and torch.nn.LSTM,
each side alone in its own fresh process.

    python benchmarks/bench_cpu.py            # every config, 3 rounds, fit epoch, float64 rows, JIT cost
    python benchmarks/bench_cpu.py --quick    # seed + small, 2 rounds, 5 repeats (a smoke run)
    python benchmarks/bench_cpu.py --configs seed medium --rounds 5

Method. For every config the sides run one after another, each in a fresh Python process that
imports only its own library (minilstm, or PyTorch, or NumPy alone for the floor), warms up and
times ``--repeats`` training steps and inference calls. One round runs every side once; the
order of the sides rotates from round to round (--rounds, default 3), so slow drifts of the
machine hit all sides alike. Each side's figure is the median over its processes of the
per-process median; the ratio is the ratio of those medians, and its range is the range of the
per-round ratios. The floor (the same matrix products that minilstm's design issues, timed
alone) is a lower bound: its fastest process is kept.

Why not interleave the libraries inside one process: on a 2-core machine NumPy's OpenBLAS
thread pool and PyTorch's OpenMP pool then compete for the same cores (spinning workers of one
pool steal the other's time slices). Measured here: PyTorch's 32,20,10,64,2 training step took
4.7-6 ms alone, 9.4 ms interleaved with minilstm in one process. A user runs one library at a
time, so each side is timed alone.

float32 (plus float64 rows for the seed and medium shapes), 2 threads on every side. Training
step = forward, MSE on a linear head over the last hidden state, full BPTT; inference = the forward
without caches (minilstm's ``infer``, PyTorch's forward under ``no_grad``).
Also: one epoch of ``LSTMModel.fit`` on the demo data against the same loop
written in PyTorch (each in its own processes, alternated), and Numba's first-call JIT cost.
Results go to benchmarks/results/cpu.{json,md,png} (cpu_partial.* for partial runs).
Peak memory: for every config one more process per side and round measures how much memory training steps
take beyond the model and its inputs (``worker_memory``: glibc's mmap threshold fixed at 64 KiB so that resident
memory follows the live arrays, the kernel's high-water mark reset before the steps; ``--no-memory`` skips it).

Environment, set for every process and printed: glibc's malloc thresholds (with the defaults
PyTorch takes 10^3-10^5 page faults per step); OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are
dropped (some machines set them to steer old OpenBLAS builds; they pin a current NumPy to
slower kernels). Tests and CI keep the environment as it is. ``--default-malloc`` leaves glibc's
thresholds at their defaults instead, as a user's process has them (results in cpu_default_malloc.*):
both sides are slower there, PyTorch more (measured: its 32,20,10,64,2 step 4.8-6.6 -> 9.8-10.1 ms,
minilstm's 3.7-4.0 -> 4.5-5.2 ms).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import (  # noqa: E402
    CONFIGS,
    machine_description,
    make_minilstm_step,
    markdown_table,
    matmul_floor,
    matmul_flops,
    median_ms,
    write_results,
)

MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}
DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREADS = 2
SET_MALLOC = True                                          # False with --default-malloc
MEMORY = True                                              # False with --no-memory
SIDES = ("numba", "numpy", "floor", "torch")
FLOAT64_CONFIGS = ("seed", "medium")
CELL_CONFIGS = ("seed", "medium")


def bench_env():
    """The environment every timed process runs with (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k not in DROP}
    if SET_MALLOC:
        env.update(MALLOC)
    else:                                                  # --default-malloc: glibc's own thresholds
        for k in MALLOC:
            env.pop(k, None)
    env.setdefault("OMP_NUM_THREADS", str(THREADS))
    env.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))
    env.setdefault("NUMBA_NUM_THREADS", str(THREADS))
    return env


def blas_kernel():
    """The BLAS library and the OpenBLAS core NumPy runs, or what threadpoolctl reports."""
    try:
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            return ", ".join(f"{i.get('internal_api')} {i.get('architecture', '')} ({i.get('num_threads')} threads)"
                             for i in info)
    except ImportError:
        pass
    try:
        import ctypes
        import glob
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
        lib = ctypes.CDLL(libs[0])
        for sym in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
            if hasattr(lib, sym):
                f = getattr(lib, sym)
                f.restype = ctypes.c_char_p
                return f"openblas {f().decode()}"
    except Exception:
        pass
    return "unknown"


def time_fn(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


# ---- the sides (each called only inside its own worker process) ------------------------------
def torch_step(B, T, D, H, L, dtype="float32", seed=0, cell="lstm"):
    import torch
    torch.set_num_threads(THREADS)
    tdt = getattr(torch, dtype)
    torch.manual_seed(seed)
    Layer = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    lstm = Layer(D, H, num_layers=L, batch_first=True, bidirectional=cell == "bilstm").to(tdt)
    head = torch.nn.Linear(2 * H if cell == "bilstm" else H, 1).to(tdt)
    g = np.random.default_rng(seed)
    x = torch.from_numpy(g.standard_normal((B, T, D)).astype(dtype))
    y = torch.from_numpy(g.standard_normal((B, 1)).astype(dtype))
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


def side_closures(side, shape, dtype, cell="lstm"):
    B, T, D, H, L = shape
    if side == "torch":
        return torch_step(B, T, D, H, L, dtype, cell=cell)
    if side == "floor":
        return matmul_floor(B, T, D, H, L, True, dtype=dtype), matmul_floor(B, T, D, H, L, False, dtype=dtype)
    return make_minilstm_step(B, T, D, H, L, side, dtype=np.dtype(dtype), cell=cell)


def worker_step(side, config, dtype, repeats, cell="lstm"):
    """One side, one config, in this process: per-repeat times of the training step and inference."""
    shape = CONFIGS[config]
    train, infer = side_closures(side, shape, dtype, cell)
    return {"train_s": time_fn(train, repeats), "infer_s": time_fn(infer, repeats)}


# Peak memory of training steps: glibc serves every block of 64 KiB or more with its own mmap and unmaps it
# when freed (fixed thresholds: no dynamic raise, no retained heap), so the resident size follows the live
# arrays; the kernel's high-water mark (VmHWM, reset by writing 5 to /proc/self/clear_refs) gives their peak.
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 16), "MALLOC_TRIM_THRESHOLD_": "0"}


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker_memory(side, config, dtype, cell="lstm", steps=5):
    """MiB that training steps take beyond the model, its inputs and the loaded library: each library first
    runs one step on B x 2 inputs (PyTorch's autograd engine and thread pool, minilstm's compiled kernels from the
    cache and its threads), then the resident size is taken and the high-water mark reset, and ``steps`` training
    steps at the config's shape run: peak = high-water mark - that resident size. Workspaces a library keeps from
    step to step count."""
    B, T, D, H, L = CONFIGS[config]
    prime, _ = side_closures(side, (B, 2, D, H, L), dtype, cell)      # the config's batch: the same thread path
    prime()
    train, _ = side_closures(side, (B, T, D, H, L), dtype, cell)
    base = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    for _ in range(steps):
        train()
    return {"peak_mb": (_status_kb("VmHWM") - base) / 1024}


def demo_epoch_data():
    from minilstm import datasets
    from minilstm.demo import DEMO_CONFIG
    ds = datasets.load_electricity()
    cut = ds.split("2014-01-01")
    cfg = dict(DEMO_CONFIG, epochs=1, device="cpu", patience=None, lr_schedule=None)
    return ds.data[:cut], ds.column("Demand")[:cut], cfg


def worker_fit(side, repeats):
    """One epoch of training on the demo data, ``repeats`` times, in this process (after a warm-up)."""
    X, y, cfg = demo_epoch_data()
    if side == "minilstm":
        from minilstm import LSTMModel
        LSTMModel(cfg).fit(X[:500], y[:500], verbose=False)                  # JIT and caches warm
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            m = LSTMModel(cfg).fit(X, y, validation_split=0.1, verbose=False)
            times.append(time.perf_counter() - t)
        return {"epoch_s": times, "windows": int(m.info["n_train_windows"])}
    import torch
    torch.set_num_threads(THREADS)
    torch_fit_epoch(torch, X[:500], y[:500], cfg)
    times = [time_fn(lambda: torch_fit_epoch(torch, X, y, cfg), 1, warmup=0)[0] for _ in range(repeats)]
    return {"epoch_s": times}


def torch_fit_epoch(torch, X, y, cfg):
    """The same epoch as ``LSTMModel.fit`` in PyTorch: z-score on the training rows, the same
    windows, model, dropout, Adam, clipping at 1.0, batch size, shuffling and validation pass."""
    L, H, B = cfg["sequence_length"], cfg["hidden_size"], cfg["batch_size"]
    mu, sd = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1)
    Xn = ((X - mu) / sd).astype(np.float32)
    yn = ((y - y.mean()) / y.std()).astype(np.float32)
    W = np.lib.stride_tricks.sliding_window_view(Xn, L, axis=0).transpose(0, 2, 1)[:len(X) - L]
    Y = yn[L:]
    n_val = max(1, round(len(W) * 0.1))
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


# ---- the parent: fresh processes, alternated ---------------------------------------------------
def run_worker(args, env=None):
    """Run this script as a worker in a fresh process with the benchmark environment; its JSON result."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker"] + args, env=env or bench_env(),
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def rounds_of(sides, rounds, job):
    """Run ``job(side)`` for every side in every round, rotating the order; per side the list of results."""
    results = {s: [] for s in sides}
    for r in range(rounds):
        k = r % len(sides)
        for s in sides[k:] + sides[:k]:
            results[s].append(job(s))
    return results


def summarize(per_process, ref=None):
    """Median of the per-process medians (ms), and when ``ref`` (per-process list of the reference
    side) is given the per-round ratios to it."""
    meds = [median_ms(p) for p in per_process]
    out = {"ms": statistics.median(meds), "process_ms": meds}
    if ref is not None:
        rmeds = [median_ms(p) for p in ref]
        out["ratio_rounds"] = [a / b for a, b in zip(meds, rmeds)]
    return out


def bench_config(name, dtype, sides, rounds, repeats, cell="lstm"):
    shape = CONFIGS[name]
    if cell != "lstm":                                     # the floor is the LSTM design's: not comparable
        sides = [s for s in sides if s != "floor"]
    if "numba" in sides:                                   # compile (cache=True) outside the timed processes
        run_worker(["step", "numba", name, dtype, "1", cell])
    res = rounds_of(list(sides), rounds, lambda s: run_worker(["step", s, name, dtype, str(repeats), cell]))
    row = {"config": name, "cell": cell, "shape": list(shape), "dtype": dtype, "rounds": rounds, "repeats": repeats}
    for mode in ("train", "infer"):
        flops = matmul_flops(*shape, mode == "train")
        ref = [r[f"{mode}_s"] for r in res["torch"]] if "torch" in res else None
        for s in sides:
            per = [r[f"{mode}_s"] for r in res[s]]
            summ = summarize(per, ref if s != "torch" else None)
            ms = min(summ["process_ms"]) if s == "floor" else summ["ms"]
            row[f"{s}_{mode}_ms"] = ms
            row[f"{s}_{mode}_gflops"] = flops / (ms * 1e-3) / 1e9
            if ref is not None and s != "torch":
                row[f"{s}_{mode}_ratio"] = summ["ms"] / statistics.median(median_ms(p) for p in ref)
                row[f"{s}_{mode}_ratio_range"] = [min(summ["ratio_rounds"]), max(summ["ratio_rounds"])]
        if "numba" in sides and "floor" in sides:
            row[f"numba_{mode}_over_floor"] = row[f"numba_{mode}_ms"] / row[f"floor_{mode}_ms"]
    if MEMORY and os.path.exists("/proc/self/clear_refs"):          # Linux: the high-water mark can be reset
        env = {k: v for k, v in bench_env().items() if k not in MALLOC}
        env.update(MEMORY_ENV)
        for s in [s for s in sides if s in ("numba", "torch")]:
            row[f"{s}_peak_mb"] = max(run_worker(["memory", s, name, dtype, cell], env)["peak_mb"]
                                      for _ in range(rounds))
    msg = f"  {name:<7} {cell:<6} {','.join(map(str, shape))} {dtype}: " + "  ".join(
        f"{s} {row[f'{s}_train_ms']:.2f}/{row[f'{s}_infer_ms']:.2f} ms" for s in sides)
    if "numba_train_ratio" in row:
        msg += f"  -> numba/torch train {row['numba_train_ratio']:.2f}x, infer {row['numba_infer_ratio']:.2f}x"
    print(msg, flush=True)
    return row


def bench_fit_epoch(rounds, repeats=3, sides=("minilstm", "torch")):
    res = rounds_of(list(sides), rounds, lambda s: run_worker(["fit", s, str(repeats)]))
    out = {"windows": res["minilstm"][0]["windows"]} if "minilstm" in res else {}
    for s in sides:
        meds = [statistics.median(r["epoch_s"]) for r in res[s]]
        out[f"{s}_epoch_s"] = statistics.median(meds)
        out[f"{s}_process_s"] = meds
    if len(sides) == 2:
        rr = [a / b for a, b in zip(out["minilstm_process_s"], out["torch_process_s"])]
        out["ratio"] = out["minilstm_epoch_s"] / out["torch_epoch_s"]
        out["ratio_range"] = [min(rr), max(rr)]
    return out


JIT_PROBE = ("import time; t=time.perf_counter(); import numpy as np, minilstm; "
             "l=minilstm.LSTM(3,4,kernels='numba',dtype={dt}); o,_=l.forward(np.zeros((2,3,3))); l.backward(o); "
             "print(time.perf_counter()-t)")


def bench_jit():
    """First forward+backward in a fresh process: with an empty Numba cache, then with the cache warm."""
    res = {}
    with tempfile.TemporaryDirectory() as d:
        env = dict(bench_env(), NUMBA_CACHE_DIR=d)
        for label in ("cold", "warm"):
            out = [float(subprocess.run([sys.executable, "-c", JIT_PROBE.format(dt=dt)], env=env, check=True,
                                        capture_output=True, text=True).stdout) for dt in ("'float32'", "'float64'")]
            res[f"{label}_cache_s"] = sum(out)
    base = float(subprocess.run([sys.executable, "-c", JIT_PROBE.replace("numba", "numpy").format(dt="'float32'")],
                                env=bench_env(), check=True, capture_output=True, text=True).stdout)
    res["import_and_first_call_numpy_s"] = base
    return res


# ---- report ------------------------------------------------------------------------------------
def chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if r["dtype"] == "float32"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [r["config"] for r in rows]
    for ax, mode in zip(axes, ("train", "infer")):
        w = 0.38
        xs = np.arange(len(rows))
        for k, s in enumerate(("numpy", "numba")):
            vals = [r.get(f"{s}_{mode}_ratio", np.nan) for r in rows]
            err = np.array([[v - r.get(f"{s}_{mode}_ratio_range", [v, v])[0] for v, r in zip(vals, rows)],
                            [r.get(f"{s}_{mode}_ratio_range", [v, v])[1] - v for v, r in zip(vals, rows)]])
            ax.bar(xs + (k - 0.5) * w, vals, w, yerr=err, capsize=3, label=f"minilstm-{s}")
        ax.axhline(1.0, color="black", lw=1, ls="--", label="PyTorch = 1")
        ax.set_xticks(xs, names)
        ax.set_ylabel("time / PyTorch time (lower is faster)")
        ax.set_title(f"{'training step' if mode == 'train' else 'inference'} (float32, CPU, {THREADS} threads)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def ratio_cell(r, key):
    if key not in r:
        return "n/a"
    lo, hi = r[key + "_range"]
    return f"**{r[key]:.2f}x** ({lo:.2f}-{hi:.2f})"


def report(results):
    hdr = ["config (B,T,D,H,L)", "dtype", "train numba ms", "train torch ms", "numba/torch train", "train numpy ms",
           "numba GFLOP/s", "floor ms (numba/floor)", "infer numba ms", "infer torch ms", "numba/torch infer"]
    f = lambda r, k, fmt="{:.2f}": fmt.format(r[k]) if k in r else "n/a"  # noqa: E731
    cell = lambda r: f" {r['cell'].upper()}" if r.get("cell", "lstm") != "lstm" else ""  # noqa: E731
    over = lambda r: (f"{r['floor_train_ms']:.2f} ({r['numba_train_over_floor']:.2f}x)"  # noqa: E731
                      if "numba_train_over_floor" in r else "n/a")
    tab = [[f"{r['config']} ({','.join(map(str, r['shape']))})" + cell(r), r["dtype"], f(r, "numba_train_ms"),
            f(r, "torch_train_ms"), ratio_cell(r, "numba_train_ratio"), f(r, "numpy_train_ms"),
            f(r, "numba_train_gflops", "{:.0f}"),
            over(r),
            f(r, "numba_infer_ms"), f(r, "torch_infer_ms"), ratio_cell(r, "numba_infer_ratio")]
           for r in results["configs"]]
    md = [f"Measured on {results['machine']} (NumPy BLAS: {results['blas']}); PyTorch {results['torch']} (CPU build); "
          f"{THREADS} threads each; each side alone in its own fresh process, {results['rounds']} rounds with the "
          f"order of the sides rotated, {results['repeats']} timed repeats per process after warm-up; figure = median "
          "of the per-process medians, ratio = ratio of those medians (range over rounds in brackets); " +
          ("malloc thresholds set for every process." if results.get("malloc") else
           "glibc's default malloc thresholds (as in a user's process)."), "", markdown_table(hdr, tab), "",
          "\"floor\": the same sequence of matrix products that minilstm's design issues, through NumPy's BLAS, "
          "timed alone (a lower bound: the fastest process); numba/floor is how far the whole step is above it. At up "
          "to 32 batch rows minilstm computes the per-step products with its own vector tiles instead of BLAS calls, "
          "so there the floor is BLAS's cost for them, not minilstm's."]
    mem = [r for r in results["configs"] if "numba_peak_mb" in r and "torch_peak_mb" in r]
    if mem:
        md += ["", "Peak memory of training steps (MiB beyond the model, its inputs and the loaded library; the "
               "largest of one process per round, each with glibc's mmap threshold fixed at 64 KiB so that resident "
               "memory follows the live arrays; minilstm's kept workspaces count):", "",
               markdown_table(["config (B,T,D,H,L)", "dtype", "minilstm MiB", "torch MiB", "minilstm/torch"],
                              [[f"{r['config']} ({','.join(map(str, r['shape']))})" + cell(r), r["dtype"],
                                f"{r['numba_peak_mb']:.1f}", f"{r['torch_peak_mb']:.1f}",
                                f"{r['numba_peak_mb'] / max(r['torch_peak_mb'], 1e-9):.2f}x"] for r in mem])]
    fe = results.get("fit_epoch")
    if fe:
        md += ["", f"One training epoch of `LSTMModel.fit` on the demo data ({fe.get('windows', '?')} windows, 2x64 "
               f"LSTM, batch 64, Adam, clipping, validation pass): minilstm {fe['minilstm_epoch_s']:.2f} s" + (
                   f", the same loop in PyTorch {fe['torch_epoch_s']:.2f} s, ratio **{fe['ratio']:.2f}x** "
                   f"({fe['ratio_range'][0]:.2f}-{fe['ratio_range'][1]:.2f})" if "ratio" in fe else "") + "."]
    j = results.get("jit")
    if j:
        md += ["", f"Numba JIT, first forward+backward in a new process (float32 + float64): cold cache "
               f"{j['cold_cache_s']:.2f} s, warm cache {j['warm_cache_s']:.2f} s (NumPy path, import and first call: "
               f"{j['import_and_first_call_numpy_s']:.2f} s)."]
    return "\n".join(md)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="seed and small configs, 2 rounds, 5 repeats, no fit/JIT")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per process (default 20; quick 5)")
    ap.add_argument("--rounds", type=int, default=None, help="processes per side and config (default 3; quick 2)")
    ap.add_argument("--configs", nargs="*", default=None, choices=list(CONFIGS))
    ap.add_argument("--sides", nargs="*", default=list(SIDES), choices=list(SIDES))
    ap.add_argument("--no-fit", action="store_true", help="skip the fit-epoch comparison")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (one per side and round)")
    ap.add_argument("--cells", nargs="*", default=None, choices=["gru", "bilstm"],
                    help="also time these cells (against torch.nn.GRU / LSTM(bidirectional=True)); "
                         "a full run does both at " + ", ".join(("seed", "medium")))
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave glibc's malloc thresholds at their defaults, as in a user's process")
    ap.add_argument("--worker", nargs="+", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for k in ("repeats", "rounds"):
        v = getattr(args, k)
        if v is not None and v < 1:
            ap.error(f"--{k} must be >= 1, got {v}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:                       # one side in this process; the parent reads the JSON line
        kind, *rest = args.worker
        if kind == "step":
            side, config, dtype, repeats, *cell = rest
            print(json.dumps(worker_step(side, config, dtype, int(repeats), *cell)))
        elif kind == "memory":
            side, config, dtype, *cell = rest
            print(json.dumps(worker_memory(side, config, dtype, *cell)))
        else:
            side, repeats = rest
            print(json.dumps(worker_fit(side, int(repeats))))
        return
    try:
        import importlib.metadata
        tver = importlib.metadata.version("torch")
    except Exception:
        tver = None
    global SET_MALLOC, MEMORY
    SET_MALLOC, MEMORY = not args.default_malloc, not args.no_memory
    sides = list(args.sides)
    if tver is None and "torch" in sides:
        sides.remove("torch")
        print("NOTICE: PyTorch is not installed: its columns are skipped (pip install torch==2.13.0, CPU build).")
    repeats = args.repeats or (5 if args.quick else 20)
    rounds = args.rounds or (2 if args.quick else 3)
    names = args.configs or (["seed", "small"] if args.quick else list(CONFIGS))
    full = not args.quick and args.configs is None and set(sides) == set(SIDES) and SET_MALLOC
    env = bench_env()
    machine = machine_description()
    blas = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import bench_cpu; "
                           "print(bench_cpu.blas_kernel())" % HERE], env=env, capture_output=True,
                          text=True).stdout.strip()
    shown = ", ".join(f"{k}={env.get(k, '(default)')}" for k in (*MALLOC, "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))
    print(f"machine: {machine}; torch {tver}; {THREADS} threads per side; each side alone in fresh processes\n"
          f"environment: {shown}; "
          f"dropped {', '.join(DROP)}; NumPy BLAS: {blas}", flush=True)
    rows = [bench_config(n, "float32", sides, rounds, repeats) for n in names]
    if full or (not args.quick and args.configs is None and not args.cells):
        rows += [bench_config(n, "float64", sides, rounds, repeats) for n in FLOAT64_CONFIGS]
    for cell in args.cells or (("gru", "bilstm") if full else ()):
        rows += [bench_config(n, "float32", sides, rounds, repeats, cell) for n in (args.configs or CELL_CONFIGS)]
    results = {"machine": machine, "blas": blas, "torch": tver, "threads": THREADS, "repeats": repeats,
               "rounds": rounds, "malloc": MALLOC if SET_MALLOC else None, "configs": rows}
    if not args.no_fit and not args.quick and not args.cells:
        print("  fit epoch on the demo data ...", flush=True)
        results["fit_epoch"] = bench_fit_epoch(rounds, sides=("minilstm", "torch") if tver else ("minilstm",))
    if full:
        print("  Numba JIT cost ...", flush=True)
        results["jit"] = bench_jit()
    text = report(results)
    name = "cpu" if full else "cpu_partial" if SET_MALLOC else "cpu_default_malloc"
    out = write_results(results, name, text, lambda p: chart(rows, p))
    print("\n" + text + f"\n\nwritten to {out}/")


if __name__ == "__main__":
    main()
