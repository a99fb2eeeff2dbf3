"""Known-future inputs: Victoria's demand a day ahead, past-only against calendar and temperature known ahead.

    python benchmarks/bench_future.py                     # seeds 0 1 2
    python benchmarks/bench_future.py --seeds 0 1 2 3 4 --train-days 365

The bundled hourly electricity data (``minilstm.datasets.load_electricity``): every column is an input
(Demand, Temperature, Holiday, Weekend and the hour/day-of-week circle), the target is Demand over the
next 24 hours (``output_steps=24``) from the 48 hours before. Both models are fitted on the
``--train-days`` days before 2014-06-01 and scored on every window of the ``--test-days`` days from it:

- past only: the windows read every column up to the origin;
- known future: the same, plus ``future_columns`` = every column but Demand, read over the 24 target
  hours too (``minilstm.forecast.future``).

The temperature used is the one measured, standing in for a forecast: the known-future numbers are an
upper bound on what a real day-ahead temperature forecast gives (the calendar columns are exact).
Reported per seed and as the mean, paired by seed: RMSE and MAE (MW) over all 24 steps, and the time
to fit. Prints and writes benchmarks/results/future.{json,md}.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_description, markdown_table, write_results  # noqa: E402

CONFIG = {"hidden_size": 32, "num_layers": 1, "sequence_length": 48, "output_steps": 24, "epochs": 30,
          "batch_size": 32, "learning_rate": 0.003}
CUT = "2014-06-01T00:00"
FUTURE = ["Temperature", "Holiday", "Weekend", "HourSin", "HourCos", "DowSin", "DowCos"]
SIDES = {"past only": {}, "known future": {"future_columns": FUTURE}}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--train-days", type=int, default=150, help="days before 2014-06-01 to fit on (default 150)")
    ap.add_argument("--test-days", type=int, default=92, help="days from 2014-06-01 to score (default 92)")
    ap.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    ap.add_argument("--out", default=None, help="folder for the results (default benchmarks/results)")
    args = ap.parse_args(argv)
    if min(args.seeds + [0]) < 0 or args.train_days < 8 or args.test_days < 2 or args.epochs < 1:
        ap.error("seeds >= 0, --train-days >= 8, --test-days >= 2, --epochs >= 1")
    return args


def data(train_days, test_days):
    """-> (fit frame, test frame): the test frame starts a window (sequence_length rows) before the cut."""
    import numpy as np

    from minilstm.datasets import load_electricity
    ds = load_electricity()
    cut = int(np.flatnonzero(np.asarray(ds.index) == np.datetime64(CUT))[0])
    frame = ds.frame
    L = CONFIG["sequence_length"]
    return frame.iloc[cut - 24 * train_days:cut], frame.iloc[cut - L:min(cut + 24 * test_days, len(frame))]


def run_side(side, seed, args, frames):
    from minilstm import LSTMModel
    fit, test = frames
    t = time.perf_counter()
    m = LSTMModel({**CONFIG, **SIDES[side], "epochs": args.epochs, "seed": seed}).fit(fit, "Demand", verbose=False)
    seconds = time.perf_counter() - t
    r = m.evaluate(test, verbose=False)
    return {"rmse": float(r["rmse"]), "mae": float(r["mae"]), "n_scored": int(r["n_scored"]), "fit_seconds": seconds,
            "best_epoch": int(m.info["best_epoch"]), "inputs": int(m.rnn.input_size)}


def main(argv=None):
    args = parse_args(argv)
    frames = data(args.train_days, args.test_days)
    runs = []
    for seed in args.seeds:
        runs.append({"seed": seed, **{side: run_side(side, seed, args, frames) for side in SIDES}})
        print(f"  seed {seed}: " + ", ".join(f"{s} RMSE {runs[-1][s]['rmse']:.1f} MW" for s in SIDES), flush=True)
    mean = {s: {k: statistics.fmean(r[s][k] for r in runs) for k in ("rmse", "mae", "fit_seconds")} for s in SIDES}
    ratios = [r["known future"]["rmse"] / r["past only"]["rmse"] for r in runs]
    rows = [[r["seed"]] + [f"{r[s]['rmse']:.1f}" for s in SIDES] + [f"{r[s]['mae']:.1f}" for s in SIDES] +
            [f"{x:.3f}"] for r, x in zip(runs, ratios)]
    rows.append(["**mean**"] + [f"**{mean[s]['rmse']:.1f}**" for s in SIDES] +
                [f"**{mean[s]['mae']:.1f}**" for s in SIDES] + [f"**{statistics.fmean(ratios):.3f}**"])
    command = (f"python benchmarks/bench_future.py --seeds {' '.join(map(str, args.seeds))} --train-days "
               f"{args.train_days} --test-days {args.test_days} --epochs {args.epochs}")
    text = (f"Victoria electricity demand, the next 24 hours from the 48 before: fitted on the {args.train_days} days "
            f"before {CUT[:10]}, scored on every window of the {args.test_days} days from it "
            f"({runs[0]['past only']['n_scored']} target hours; hidden_size {CONFIG['hidden_size']}, 1 layer, "
            f"{args.epochs} epochs). Known future: {', '.join(FUTURE)} over the target hours too (the measured "
            "temperature stands in for a forecast: an upper bound).\n\n" +
            markdown_table(["seed", "RMSE past only", "RMSE known future", "MAE past only", "MAE known future",
                            "RMSE ratio (known / past)"], rows) +
            f"\n\nFit seconds (mean): past only {mean['past only']['fit_seconds']:.1f}, known future "
            f"{mean['known future']['fit_seconds']:.1f}.\n\nCommand: `{command}`\n\nMeasured on "
            f"{machine_description()}.")
    results = {"machine": machine_description(), "command": command, "config": CONFIG, "future_columns": FUTURE,
               "cut": CUT, "train_days": args.train_days, "test_days": args.test_days, "runs": runs, "mean": mean,
               "rmse_ratios": ratios}
    out = write_results(results, "future", text, out=args.out)
    print("\n" + text + f"\n\nwritten to {out}/future.*")
    return results


if __name__ == "__main__":
    main()
