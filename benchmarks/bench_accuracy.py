"""Accuracy benchmark: does ``LSTMModel`` with its defaults forecast as well as a plain PyTorch loop?

    python benchmarks/bench_accuracy.py                 # every task, 5 seeds, ablations (about 30 minutes)
    python benchmarks/bench_accuracy.py --seeds 0 1 2 3 4 5 6 7 --tasks elec_1h weather
    python benchmarks/bench_accuracy.py --quick         # a tiny task, 2 seeds, 2 epochs (the tests run it)

One training run is one sample: the test RMSE of a single run swings by about +-10% with the
seed. So every side is trained with the same seeds (5 by default) on every task, and the
comparison is paired: for each seed, minilstm's test RMSE over the PyTorch loop's.

The tasks are real series bundled with minilstm, each with a fixed split in time order (train
on the earlier rows, test on the later ones; nothing is tuned on the test rows):

- ``elec_1h``, ``elec_24h``: Victoria's hourly electricity demand (MW) with temperature and
  calendar features, 1 hour and 24 hours ahead;
- ``temp_1h``: Melbourne's hourly temperature (deg C) with calendar features, 1 hour ahead;
- ``weather``: Seattle's daily maximum temperature (deg C) from the four daily measurements;
- ``goog_returns``: Google's daily return (%) from the four stocks' returns.

Sides, on the same windows, config, epochs, batch size, learning rate and validation split:

- ``minilstm``: ``LSTMModel(config)`` with every other setting at its default;
- ``torch``: the plain loop a PyTorch user writes: z-score on the training rows, ``nn.LSTM`` +
  ``nn.Linear`` on the last hidden state, Adam, MSE, shuffled batches, no clipping, forget-gate
  bias as initialised, the last epoch's weights;
- ablations: ``LSTMModel`` with one default changed (see ``ABLATIONS``), to see what each default
  is worth; and ``plain`` (every one changed), which should match the PyTorch loop.

Reported per task and side: test RMSE and MAE in the series' units (mean, standard deviation,
min-max over seeds) and the paired ratio to the PyTorch loop (mean of the per-seed ratios, and
how many seeds minilstm won); the baselines (persistence, seasonal naive, linear AR) on the same
rows. Results go to benchmarks/results/accuracy.{json,md,png}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import markdown_table, write_results  # noqa: E402

# the model every side trains (the configuration of the comparison that motivated this benchmark)
BASE = {"hidden_size": 32, "num_layers": 1, "epochs": 30, "learning_rate": 0.005, "batch_size": 64,
        "dropout": 0.0, "device": "cpu"}

# each ablation sets one training choice of LSTMModel (forget_bias: both values, 0.0 is the default since
# this benchmark decided it); 'plain' makes every choice the PyTorch loop makes
ABLATIONS = {
    "forget_bias_0": {"forget_bias": 0.0},
    "forget_bias_1": {"forget_bias": 1.0},
    "no_clip": {"clip_norm": None},
    "last_epoch": {"restore_best": False, "patience": None},
    "no_early_stop": {"patience": None},
    "no_weight_average": {"weight_average": None},
}
PLAIN = {"forget_bias": 0.0, "clip_norm": None, "restore_best": False, "patience": None, "weight_average": None}


def _calendar(index):
    """Hour-of-day and day-of-week on the unit circle, from a datetime64 index."""
    hour = (index.astype("datetime64[h]") - index.astype("datetime64[D]")).astype(int)
    dow = (index.astype("datetime64[D]").astype(int) + 3) % 7
    return np.column_stack([np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                            np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)])


def load_task(name):
    """(X, y, test_start, units, config overrides) of one task; X (N, F), y (N,), rows in time order."""
    from minilstm import datasets
    if name in ("elec_1h", "elec_24h", "temp_1h"):
        ds = datasets.load_electricity()
        lo, cut, hi = ds.split("2013-01-01"), ds.split("2014-01-01"), ds.split("2014-07-01")
        if name == "temp_1h":
            X = np.column_stack([ds.column("Temperature"), _calendar(ds.index)])
            return X[lo:hi], ds.column("Temperature")[lo:hi], cut - lo, "deg C", {"sequence_length": 24}
        h = 1 if name == "elec_1h" else 24
        return ds.data[lo:hi], ds.column("Demand")[lo:hi], cut - lo, "MW", {"sequence_length": 24, "horizon": h}
    if name == "weather":
        ds = datasets.load_weather()
        return ds.data, ds.column("temp_max"), ds.split("2015-01-01"), "deg C", {"sequence_length": 30}
    if name == "goog_returns":
        ds = datasets.load_stocks()
        r = 100 * np.diff(ds.data, axis=0) / ds.data[:-1]                     # daily returns, %
        return r, r[:, ds.columns.index("GOOG")], ds.split("2018-01-01") - 1, "%", {"sequence_length": 20}
    if name == "tiny":                                                    # for --quick and the tests
        ds = datasets.load_electricity()
        lo = ds.split("2014-01-01")
        return ds.data[lo:lo + 900], ds.column("Demand")[lo:lo + 900], 700, "MW", {"sequence_length": 12}
    raise SystemExit(f"unknown task {name!r}; choose from {TASKS}")


TASKS = ["elec_1h", "elec_24h", "temp_1h", "weather", "goog_returns"]


def split_rows(X, y, test_start, L, h):
    """Training rows (before test_start), and the test rows with the context the first test window
    reads: the first scored target is row test_start, so the test part starts L + h - 1 rows earlier."""
    s = test_start - L - h + 1
    return (X[:test_start], y[:test_start]), (X[s:], y[s:])


def minilstm_run(cfg, data, seed):
    from minilstm import LSTMModel
    (Xtr, ytr), (Xte, yte) = data
    m = LSTMModel(dict(cfg, seed=seed))
    t = time.perf_counter()
    m.fit(Xtr, ytr, validation_split=0.1, verbose=False)
    sec = time.perf_counter() - t
    res = m.evaluate(Xte, yte, verbose=False)
    return {"rmse": float(res["rmse"]), "mae": float(res["mae"]), "seconds": sec,
            "baselines": {k: {"rmse": float(v["rmse"]), "mae": float(v["mae"])} for k, v in res["baselines"].items()}}


def torch_run(cfg, data, seed):
    """The plain PyTorch loop, on exactly the windows and rows LSTMModel trains and scores on."""
    import torch

    from minilstm.forecast.windows import n_labeled, sliding_windows, window_targets
    (Xtr, ytr), (Xte, yte) = data
    L, h = cfg["sequence_length"], cfg.get("horizon", 1)
    n = n_labeled(len(Xtr), L, h)
    n_val = max(1, int(round(n * 0.1)))
    n_train = n - n_val
    last = n_train - 1 + L - 1 + h                                     # last row a training target touches
    mx, sx = Xtr[:last + 1].mean(0), Xtr[:last + 1].std(0)
    sx = np.where(sx > 0, sx, 1.0)
    my, sy = ytr[:last + 1].mean(), ytr[:last + 1].std() or 1.0
    W = sliding_windows(((Xtr - mx) / sx).astype(np.float32), L)[:n_train]
    Y = window_targets(((ytr - my) / sy).astype(np.float32)[:, None], L, h)[:n_train, 0]
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(Xtr.shape[1], cfg["hidden_size"], num_layers=cfg["num_layers"],
                         dropout=cfg["dropout"] if cfg["num_layers"] > 1 else 0.0, batch_first=True)
    head = torch.nn.Linear(cfg["hidden_size"], 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg["learning_rate"])
    Xt, Yt = torch.from_numpy(np.ascontiguousarray(W)), torch.from_numpy(np.ascontiguousarray(Y))
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    for _ in range(cfg["epochs"]):
        perm = torch.from_numpy(rng.permutation(n_train))
        for s in range(0, n_train, cfg["batch_size"]):
            idx = perm[s:s + cfg["batch_size"]]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(head(lstm(Xt[idx])[0][:, -1]), Yt[idx])
            loss.backward()
            opt.step()
    sec = time.perf_counter() - t
    nt = n_labeled(len(Xte), L, h)
    Wt = torch.from_numpy(np.ascontiguousarray(sliding_windows(((Xte - mx) / sx).astype(np.float32), L)[:nt]))
    lstm.eval()
    with torch.no_grad():
        pred = head(lstm(Wt)[0][:, -1]).numpy()[:, 0].astype(np.float64) * sy + my
    truth = window_targets(yte[:, None], L, h)[:, 0, 0]
    err = pred - truth
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))), "seconds": sec}


def stats(values):
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "values": values}


def run_task(name, seeds, sides, base, overrides=None):
    overrides = overrides or {}
    X, y, test_start, units, over = load_task(name)
    cfg = dict(base, **over)
    data = split_rows(X, y, test_start, cfg["sequence_length"], cfg.get("horizon", 1))
    per_side = {}
    baselines = None
    for side in sides:
        runs = []
        for seed in seeds:
            if side == "torch":
                runs.append(torch_run(cfg, data, seed))
            else:
                delta = {} if side == "minilstm" else PLAIN if side == "plain" else ABLATIONS[side]
                r = minilstm_run(dict(cfg, **{**overrides, **delta}), data, seed)
                baselines = baselines or r.pop("baselines")
                r.pop("baselines", None)
                runs.append(r)
        per_side[side] = runs
        print(f"  {name:<13} {side:<14} RMSE " + " ".join(f"{r['rmse']:.4g}" for r in runs) +
              f"  mean {statistics.fmean(r['rmse'] for r in runs):.4g} {units}", flush=True)
    out = {"task": name, "units": units, "config": cfg, "seeds": list(seeds), "n_train_rows": int(test_start),
           "n_test_rows": int(len(X) - test_start), "baselines": baselines, "sides": {}}
    for side, runs in per_side.items():
        s = {m: stats([r[m] for r in runs]) for m in ("rmse", "mae", "seconds")}
        if "torch" in per_side and side != "torch":
            ratios = [a["rmse"] / b["rmse"] for a, b in zip(runs, per_side["torch"])]
            s["paired_rmse_ratio"] = stats(ratios)
            s["wins"] = sum(q < 1 for q in ratios)
        out["sides"][side] = s
    return out


def report(results):
    rows = []
    for t in results["tasks"]:
        ref = t["sides"].get("torch")
        for side, s in t["sides"].items():
            r = s["rmse"]
            pr = s.get("paired_rmse_ratio")
            rows.append([t["task"], side, f"{r['mean']:.4g} +- {r['std']:.2g} ({r['min']:.4g}-{r['max']:.4g})",
                         f"{s['mae']['mean']:.4g}",
                         f"**{pr['mean']:.3f}x** ({s['wins']}/{len(t['seeds'])})" if pr else ("1" if ref else "n/a"),
                         f"{s['seconds']['mean']:.1f}"])
        b = t["baselines"] or {}
        listed = ", ".join(f"{k} {v['rmse']:.4g}" for k, v in b.items())
        rows.append([t["task"], "baselines (RMSE)", listed, "", "", ""])
    hdr = ["task", "side", f"test RMSE mean +- sd (min-max) over {len(results['seeds'])} seeds", "MAE mean",
           "paired RMSE ratio to the PyTorch loop (seeds won)", "fit s"]
    units = ", ".join(f"{t['task']} in {t['units']}" for t in results["tasks"])
    return "\n".join([f"Test errors in the series' units ({units}); model: {json.dumps(results['base'])}; "
                      f"seeds {results['seeds']}; {results['machine']}.", "", markdown_table(hdr, rows)])


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tasks = results["tasks"]
    sides = [s for s in tasks[0]["sides"] if s != "torch"]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    w = 0.8 / max(len(sides), 1)
    xs = np.arange(len(tasks))
    for k, s in enumerate(sides):
        m = [t["sides"][s].get("paired_rmse_ratio", {}).get("mean", np.nan) for t in tasks]
        sd = [t["sides"][s].get("paired_rmse_ratio", {}).get("std", 0) for t in tasks]
        ax.bar(xs + (k - (len(sides) - 1) / 2) * w, m, w, yerr=sd, capsize=2, label=s)
    ax.axhline(1.0, color="black", lw=1, ls="--", label="PyTorch loop = 1")
    ax.set_xticks(xs, [t["task"] for t in tasks])
    ax.set_ylabel("test RMSE / PyTorch loop's (paired)")
    ax.set_title(f"accuracy over {len(results['seeds'])} seeds (lower is better)")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="*", default=None, choices=TASKS + ["tiny"])
    ap.add_argument("--seeds", nargs="*", type=int, default=None, help="default 0 1 2 3 4")
    ap.add_argument("--sides", nargs="*", default=None,
                    choices=["minilstm", "torch", "plain", *ABLATIONS], help="default: all")
    ap.add_argument("--epochs", type=int, default=None, help=f"default {BASE['epochs']}")
    ap.add_argument("--quick", action="store_true", help="the tiny task, seeds 0 1, 2 epochs, no ablations")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="change LSTMModel settings on every minilstm side (try candidate defaults), "
                         "e.g. --set forget_bias=0.0 clip_norm=None")
    ap.add_argument("--out", default=None, help="results file stem (default accuracy, or accuracy_partial)")
    args = ap.parse_args(argv)
    try:
        import ast
        args.set = {k: ast.literal_eval(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    except (ValueError, SyntaxError):
        ap.error(f"--set takes KEY=VALUE pairs with Python literals as values, got {args.set}")
    if args.epochs is not None and args.epochs < 1:
        ap.error(f"--epochs must be >= 1, got {args.epochs}")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
        torch.set_num_threads(2)
        has_torch = True
    except ImportError:
        has_torch = False
        print("NOTICE: PyTorch is not installed: the PyTorch loop is skipped (pip install torch==2.13.0).")
    from common import machine_description
    tasks = args.tasks or (["tiny"] if args.quick else TASKS)
    seeds = args.seeds or ([0, 1] if args.quick else [0, 1, 2, 3, 4])
    sides = args.sides or (["minilstm", "torch"] if args.quick else ["minilstm", "torch", "plain", *ABLATIONS])
    if not has_torch:
        sides = [s for s in sides if s != "torch"]
    base = dict(BASE, epochs=args.epochs or (2 if args.quick else BASE["epochs"]))
    full = (args.tasks is None and args.seeds is None and args.sides is None
            and not (args.quick or args.epochs or args.set))
    results = {"machine": machine_description(), "base": base, "settings": args.set, "seeds": seeds, "tasks": []}
    for t in tasks:
        results["tasks"].append(run_task(t, seeds, sides, base, args.set))
    text = report(results)
    stem = args.out or ("accuracy" if full else "accuracy_partial")
    out = write_results(results, stem, text, lambda p: chart(results, p))
    print("\n" + text + f"\n\nwritten to {out}/{stem}.*")
    return results


if __name__ == "__main__":
    main()
