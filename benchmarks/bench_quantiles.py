"""Interval coverage of quantile forecasts beside the ensemble's conformal intervals, on Victoria's demand.

    python benchmarks/bench_quantiles.py                  # seeds 0 1 2
    python benchmarks/bench_quantiles.py --seeds 0 1 2 3 4 --test-days 61

The bundled hourly electricity data (``minilstm.datasets.load_electricity``; target 'Demand', every
column an input, one hour ahead). Both methods are fitted on the ``--train-days`` days before
2014-06-01 and scored on the ``--test-days`` days from it (each test window reads the day before its
target, nothing after it):

- ``LSTMModel(loss='quantile', quantiles=[0.1, 0.5, 0.9])``: the 0.1-0.9 interval (80% nominal);
- ``LSTMEnsemble`` of ``--members`` point models (mse) with its split-conformal 80% interval, calibrated
  on the members' validation tail (as in README's "Backtests, ensembles and sweeps").

One seed per run (the ensemble's member seeds are drawn from it). Reported per seed and as the mean:
the fraction of test hours inside the interval, its mean width (MW), the point RMSE (the quantile
model's median, the ensemble's mean) and the quantile model's pinball loss. Goal: within 5 points of
the nominal 80%. Prints and writes benchmarks/results/quantiles.{json,md} (``--stem`` names them otherwise:
results/quantiles_365days.* is ``--train-days 365 --stem quantiles_365days``).
"""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_description, markdown_table, write_results  # noqa: E402

LEVELS = [0.1, 0.5, 0.9]
CONFIG = {"hidden_size": 16, "num_layers": 1, "sequence_length": 24, "epochs": 30, "batch_size": 32,
          "learning_rate": 0.005}
CUT = "2014-06-01T00:00"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--train-days", type=int, default=150, help="days before 2014-06-01 to fit on (default 150)")
    ap.add_argument("--test-days", type=int, default=92, help="days from 2014-06-01 to score (default 92)")
    ap.add_argument("--cut", default=CUT[:10], help=f"first test day (default {CUT[:10]}; 2014-01-01 with "
                    "--train-days 730 --test-days 365: fit on 2012-2013, score the test year 2014)")
    ap.add_argument("--members", type=int, default=3, help="ensemble members (default 3)")
    ap.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    ap.add_argument("--out", default=None, help="folder for the results (default benchmarks/results)")
    ap.add_argument("--stem", default="quantiles", help="file names of the results (default quantiles)")
    args = ap.parse_args(argv)
    if min(args.seeds + [0]) < 0 or args.train_days < 8 or args.test_days < 1 or args.members < 1 or args.epochs < 1:
        ap.error("seeds >= 0, --train-days >= 8, --test-days >= 1, --members >= 1, --epochs >= 1")
    return args


def data(train_days, test_days, cut_day=CUT[:10]):
    """-> (X_fit, y_fit, X_test, y_test): the test arrays start a window (sequence_length rows) before the cut."""
    import numpy as np

    from minilstm.datasets import load_electricity
    ds = load_electricity()
    hits = np.flatnonzero(np.asarray(ds.index) == np.datetime64(cut_day + "T00:00"))
    if len(hits) == 0:
        raise SystemExit(f"--cut {cut_day}: no such day in the data (2012-01-01 .. 2014-12-31)")
    cut = int(hits[0])
    if cut - 24 * train_days < 0:
        raise SystemExit(f"--train-days {train_days}: the data start {cut // 24} days before {cut_day}")
    y = ds.column("Demand")
    L = CONFIG["sequence_length"]
    fit = slice(cut - 24 * train_days, cut)
    test = slice(cut - L, min(cut + 24 * test_days, len(y)))
    return ds.data[fit], y[fit], ds.data[test], y[test]


def run_seed(seed, args, arrays):
    from minilstm.forecast import LSTMEnsemble, LSTMModel
    Xf, yf, Xt, yt = arrays
    cfg = {**CONFIG, "epochs": args.epochs, "seed": seed}
    qm = LSTMModel({**cfg, "loss": "quantile", "quantiles": LEVELS}).fit(Xf, yf, verbose=False)
    rq = qm.evaluate(Xt, yt, verbose=False)
    ens = LSTMEnsemble(cfg, n_members=args.members).fit(Xf, yf, verbose=False)
    re = ens.evaluate(Xt, yt, levels=(0.8,), verbose=False)
    iq, ie = rq["intervals"][0.8], re["intervals"][0.8]
    return {"seed": seed, "n": iq["n"],
            "quantile": {"coverage": iq["coverage"], "mean_width": iq["mean_width"], "rmse": float(rq["rmse"]),
                         "pinball": rq["pinball"], "best_epoch": qm.info.get("best_epoch")},
            "ensemble": {"coverage": ie["coverage"], "mean_width": ie["mean_width"], "rmse": float(re["rmse"])}}


def summary(runs, method):
    return {k: statistics.fmean(r[method][k] for r in runs) for k in ("coverage", "mean_width", "rmse")}


def table(runs, args):
    rows = []
    for method, name in (("quantile", "quantile model (0.1-0.9)"), ("ensemble", f"ensemble of {args.members}, "
                                                                                   "conformal")):
        for r in runs:
            v = r[method]
            rows.append([name, r["seed"], f"{v['coverage']:.1%}", f"{v['mean_width']:.0f}", f"{v['rmse']:.1f}"])
        s = summary(runs, method)
        rows.append([f"**{name}, mean**", "", f"**{s['coverage']:.1%}**", f"**{s['mean_width']:.0f}**",
                     f"**{s['rmse']:.1f}**"])
    return markdown_table(["80% interval", "seed", "coverage", "mean width (MW)", "RMSE (MW)"], rows)


def main(argv=None):
    args = parse_args(argv)
    arrays = data(args.train_days, args.test_days, args.cut)
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(seed, args, arrays))
        r = runs[-1]
        print(f"  seed {seed}: quantile {r['quantile']['coverage']:.1%} inside ({r['quantile']['mean_width']:.0f} MW "
              f"wide), ensemble {r['ensemble']['coverage']:.1%} ({r['ensemble']['mean_width']:.0f} MW)", flush=True)
    sq, se = summary(runs, "quantile"), summary(runs, "ensemble")
    goal = {m: abs(s["coverage"] - 0.8) <= 0.05 for m, s in (("quantile", sq), ("ensemble", se))}
    command = "python benchmarks/bench_quantiles.py " + " ".join(
        [f"--seeds {' '.join(map(str, args.seeds))}"] + ([f"--cut {args.cut}"] if args.cut != CUT[:10] else []) +
        [f"--train-days {args.train_days}",
         f"--test-days {args.test_days}", f"--members {args.members}", f"--epochs {args.epochs}"] +
        ([f"--stem {args.stem}"] if args.stem != "quantiles" else []))
    text = (f"Victoria electricity demand, 1 hour ahead: fitted on the {args.train_days} days before {args.cut}, "
            f"scored on the {runs[0]['n']} hours from it (every column an input; hidden_size 16, 1 layer, "
            f"sequence_length 24, {args.epochs} epochs).\n\n" + table(runs, args) +
            f"\n\nGoal, coverage within 5 points of the nominal 80%: quantile model "
            f"{'met' if goal['quantile'] else 'not met'} ({sq['coverage']:.1%}), ensemble "
            f"{'met' if goal['ensemble'] else 'not met'} ({se['coverage']:.1%}).\n\n"
            f"Command: `{command}`\n\nMeasured on {machine_description()}.")
    results = {"machine": machine_description(), "command": command, "levels": LEVELS, "config": CONFIG,
               "cut": args.cut, "train_days": args.train_days, "test_days": args.test_days, "members": args.members,
               "runs": runs, "mean": {"quantile": sq, "ensemble": se}, "goal_met": goal}
    out = write_results(results, args.stem, text, out=args.out)
    print("\n" + text + f"\n\nwritten to {out}/{args.stem}.*")
    return results


if __name__ == "__main__":
    main()
