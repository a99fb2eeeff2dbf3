"""The demo over several seeds: one training run is one sample, so the README's demo table is a
mean and a spread.

    python benchmarks/bench_demo_seeds.py                 # seeds 0 1 2 (about 3x the demo's time)
    python benchmarks/bench_demo_seeds.py --seeds 0 1 2 3 4

Trains ``python -m minilstm demo``'s model (``minilstm.demo.DEMO_CONFIG``) once per seed on
2012-2013 and scores it on every hour of 2014 beside the baselines (which do not depend on the
seed). Prints and writes benchmarks/results/demo_seeds.{json,md}.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_description, markdown_table, write_results  # noqa: E402

METRICS = ("rmse", "mae", "mape", "r2")


def spread(values, fmt):
    m = statistics.fmean(values)
    if len(values) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(runs):
    fmts = {"rmse": "{:.1f}", "mae": "{:.1f}", "mape": "{:.2f}", "r2": "{:.3f}"}
    rows = [["**minilstm LSTM**, mean (min-max) over seeds " + ", ".join(str(r["seed"]) for r in runs)] +
            [f"**{spread([r[m] for r in runs], fmts[m])}**" for m in METRICS]]
    for name, b in runs[0]["baselines"].items():
        if name != "zero":
            rows.append([name.replace("_", " ") + (f" ({runs[0]['season']} h)" if name == "seasonal_naive" else "")] +
                        [fmts[m].format(b[m]) for m in METRICS])
    return markdown_table(["2014 test year, 1 hour ahead", "RMSE (MW)", "MAE (MW)", "MAPE %", "R2"], rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: the demo's")
    args = ap.parse_args(argv)
    from minilstm.demo import demo_data, train_demo
    data = demo_data()
    runs = []
    for seed in args.seeds:
        t = time.perf_counter()
        model, res, _, _ = train_demo(seed, args.epochs, device="cpu", verbose=False, data=data)
        runs.append({"seed": seed, **{m: float(res[m]) for m in METRICS}, "best_epoch": model.info["best_epoch"],
                     "seconds": time.perf_counter() - t, "season": res["season"],
                     "baselines": {k: {m: float(v[m]) for m in METRICS} for k, v in res["baselines"].items()}})
        print(f"  seed {seed}: RMSE {runs[-1]['rmse']:.1f} MW, best epoch {runs[-1]['best_epoch']}, "
              f"{runs[-1]['seconds']:.0f} s", flush=True)
    text = table(runs) + f"\n\nMeasured on {machine_description()}; mean training time " \
        f"{statistics.fmean(r['seconds'] for r in runs):.0f} s per seed (CPU, Numba kernels)."
    out = write_results({"machine": machine_description(), "runs": runs}, "demo_seeds", text)
    print("\n" + text + f"\n\nwritten to {out}/demo_seeds.*")
    return runs


if __name__ == "__main__":
    main()
