"""One model over many series: a global model against one model per series, and its memory at scale.

    python benchmarks/bench_many.py                  # both parts, seeds 0 1 2
    python benchmarks/bench_many.py --part scale     # only the 1,000-series measurement

Part 1, the bundled stocks (``minilstm.datasets.load_stocks``: AAPL, AMZN, FB, GOOG daily closes, 1,258
days): each series' first 80% of days fit, the rest is scored, 5 days ahead from the 20 before
(``output_steps=5``). Three ways, each over seeds 0, 1, 2:

- global: ``LSTMModel(config).fit([s1, s2, s3, s4])``, one network, each series normalized by its own
  training rows (``minilstm.forecast.many``);
- per series, same network: one ``LSTMModel(config, baseline=None)`` per series (the global model's network,
  fitted four times);
- per series, defaults: one ``LSTMModel(config)`` per series (a series alone gets the exponential-smoothing
  baseline by default, which a global model does not have).

Reported: each series' MASE (scaled by its training rows' naive MAE, as ``evaluate`` does), their mean, and
the total time to fit all four series.

Part 2, scale: 1,000 synthetic series of 500 rows (a level, a 24-row season, noise), one epoch of a global
model (hidden 16, sequence_length 24, batch 256), with the training windows copied once (below
``training.GATHER_BYTES``) and gathered batch by batch (``GATHER_BYTES = 0``): seconds and peak memory
(``tracemalloc``'s peak of the fit: NumPy's allocations included). Writes benchmarks/results/many.{json,md}.
"""
import argparse
import os
import statistics
import sys
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_description, markdown_table, write_results  # noqa: E402

CONFIG = {"hidden_size": 16, "num_layers": 1, "sequence_length": 20, "output_steps": 5, "epochs": 30,
          "batch_size": 32}
SIDES = ["global", "per series, same network", "per series, defaults"]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["both", "stocks", "scale"], default="both")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    ap.add_argument("--n-series", type=int, default=1000, help="series in the scale part (default 1000)")
    ap.add_argument("--rows", type=int, default=500, help="rows per series in the scale part (default 500)")
    ap.add_argument("--out", default=None, help="folder for the results (default benchmarks/results)")
    args = ap.parse_args(argv)
    if min(args.seeds + [0]) < 0 or args.epochs < 1 or args.n_series < 1 or args.rows < 60:
        ap.error("seeds >= 0, --epochs >= 1, --n-series >= 1, --rows >= 60")
    return args


def stocks_part(args):
    import numpy as np

    from minilstm import LSTMModel
    from minilstm.datasets import load_stocks
    frame = load_stocks().frame
    names = list(frame.columns)
    cut = int(0.8 * len(frame))
    fit = [frame[n].to_numpy()[:cut] for n in names]
    test = [frame[n].to_numpy()[cut - CONFIG["sequence_length"]:] for n in names]
    runs = []
    for seed in args.seeds:
        cfg = {**CONFIG, "epochs": args.epochs, "seed": seed}
        row = {"seed": seed}
        t = time.perf_counter()
        g = LSTMModel(cfg).fit(fit, verbose=False)
        row["global"] = {"seconds": time.perf_counter() - t,
                         "mase": [float(r["mase"]) for r in g.evaluate(test, verbose=False)]}
        for side, extra in ((SIDES[1], {"baseline": None}), (SIDES[2], {})):
            t = time.perf_counter()
            models = [LSTMModel({**cfg, **extra}).fit(f, verbose=False) for f in fit]
            row[side] = {"seconds": time.perf_counter() - t,
                         "mase": [float(m.evaluate(x, verbose=False)["mase"]) for m, x in zip(models, test)]}
        runs.append(row)
        print(f"  seed {seed}: " + ", ".join(f"{s} mean MASE {np.mean(row[s]['mase']):.3f} ({row[s]['seconds']:.1f} s)"
                                            for s in SIDES), flush=True)
    mean = {s: {"mase": [statistics.fmean(r[s]["mase"][i] for r in runs) for i in range(len(names))],
                "seconds": statistics.fmean(r[s]["seconds"] for r in runs)} for s in SIDES}
    rows = [[s] + [f"{v:.3f}" for v in mean[s]["mase"]] + [f"{statistics.fmean(mean[s]['mase']):.3f}",
                                                          f"{mean[s]['seconds']:.1f}"] for s in SIDES]
    table = markdown_table(["model"] + [f"{n} MASE" for n in names] + ["mean MASE", "fit seconds (all 4)"], rows)
    return {"names": names, "cut": cut, "runs": runs, "mean": mean}, table


def synthetic(n_series, rows, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    level = rng.uniform(10, 1000, n_series)[:, None]
    return list(level * (1 + 0.2 * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6, (n_series, 1))))
                + 0.05 * level * rng.standard_normal((n_series, rows)))


def scale_part(args):
    from minilstm import LSTMModel
    from minilstm.forecast import training
    series = synthetic(args.n_series, args.rows)
    cfg = {"hidden_size": 16, "num_layers": 1, "sequence_length": 24, "epochs": 1, "batch_size": 256, "seed": 0}
    LSTMModel(cfg).fit(series[:2], verbose=False)                         # compile the kernels first
    out = {}
    default = training.GATHER_BYTES
    for mode, limit in (("windows copied once", default), ("gathered per batch", 0)):
        training.GATHER_BYTES = limit
        tracemalloc.start()
        t = time.perf_counter()
        m = LSTMModel(cfg).fit(series, verbose=False)
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[mode] = {"seconds": seconds, "peak_mb": peak / 2 ** 20, "windows": m.info["n_train_windows"]}
        print(f"  {mode}: {seconds:.1f} s, peak {peak / 2 ** 20:.0f} MB", flush=True)
    training.GATHER_BYTES = default
    data_mb = args.n_series * args.rows * 8 / 2 ** 20
    table = markdown_table(["training windows", "seconds (1 epoch)", "peak memory (MB)"],
                           [[k, f"{v['seconds']:.1f}", f"{v['peak_mb']:.0f}"] for k, v in out.items()])
    return {"n_series": args.n_series, "rows": args.rows, "config": cfg, "data_mb": data_mb, "modes": out}, table


def main(argv=None):
    args = parse_args(argv)
    results, text = {"machine": machine_description()}, []
    if args.part in ("both", "stocks"):
        results["stocks"], table = stocks_part(args)
        text.append(f"Bundled stocks, 5 days ahead from 20 (first 80% of days fit, the rest scored; hidden 16, 1 "
                    f"layer, {args.epochs} epochs; mean over seeds {args.seeds}):\n\n{table}")
    if args.part in ("both", "scale"):
        results["scale"], table = scale_part(args)
        text.append(f"Scale: {args.n_series} synthetic series of {args.rows} rows "
                    f"({results['scale']['data_mb']:.1f} MB of float64 data), one epoch of a global model:\n\n{table}")
    command = (f"python benchmarks/bench_many.py --part {args.part} --seeds {' '.join(map(str, args.seeds))} "
               f"--epochs {args.epochs} --n-series {args.n_series} --rows {args.rows}")
    results["command"] = command
    body = "\n\n".join(text) + f"\n\nCommand: `{command}`\n\nMeasured on {machine_description()}."
    out = write_results(results, "many", body, out=args.out)
    print("\n" + body + f"\n\nwritten to {out}/many.*")
    return results


if __name__ == "__main__":
    main()
