"""Backtests, ensemble intervals and a small sweep on Victoria's electricity demand, and the n_jobs=2 speed-up.

    python benchmarks/bench_backtest.py             # the README's numbers (about 10 minutes on 2 quiet cores)
    python benchmarks/bench_backtest.py --readme    # the same, then the README's tables replaced by the new ones
    python benchmarks/bench_backtest.py --quick     # a few weeks of data and tiny models (the tests run it)

What is measured (train on 2012-2013, the test year is 2014; nothing is tuned on 2014):

- backtest: 12 weekly folds from 2014-01-01. Each week the model is refitted on every hour before
  it (expanding window), then forecasts every hour of that week from the 24 hours before that hour,
  1 hour ahead and (another model) 24 hours ahead; beside the baselines on the same hours;
- ensemble: 5 seeds fitted on 2012-2013, 80% and 95% split-conformal intervals calibrated on the
  last 10% of the training windows (late 2013), their coverage measured on every hour of 2014;
- sweep: hidden_size x sequence_length, scored on a holdout tail of 2013 (never on 2014);
- the 1-hour backtest timed with n_jobs=1 and n_jobs=2 (the same numbers, checked; each fit uses one
  BLAS/Numba thread either way, which is what keeps the numbers identical).

Results go to benchmarks/results/backtest.{json,md,png} (``--out`` elsewhere).
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_description, markdown_table  # noqa: E402

MODES = {
    "full": {"config": {"hidden_size": 32, "num_layers": 2, "sequence_length": 24, "epochs": 15, "batch_size": 64,
                        "learning_rate": 0.003, "dropout": 0.0, "patience": 3, "device": "cpu", "seed": 0},
             "first_row": "2012-01-01", "weeks": 12, "members": 5,
             "grid": {"hidden_size": [16, 32], "sequence_length": [24, 48]}},
    "quick": {"config": {"hidden_size": 4, "num_layers": 1, "sequence_length": 24, "epochs": 1, "batch_size": 256,
                         "learning_rate": 0.01, "dropout": 0.0, "patience": None, "device": "cpu", "seed": 0},
              "first_row": "2013-11-15", "weeks": 2, "members": 2,
              "grid": {"hidden_size": [4, 6]}},
}
README_START, README_END = "<!-- bench_backtest:start -->", "<!-- bench_backtest:end -->"


def data(first_row):
    from minilstm.datasets import load_electricity
    ds = load_electricity()
    a, test = ds.split(first_row), ds.split("2014-01-01")
    return ds.data[a:], ds.column("Demand")[a:], ds.index[a:], test - a


def run(mode="full", n_jobs=2):
    from minilstm.forecast import backtest, sweep
    from minilstm.forecast.ensemble import LSTMEnsemble
    m = MODES[mode]
    X, y, index, test = data(m["first_row"])
    cfg, week = m["config"], 168
    bt = dict(start=test, end=test + m["weeks"] * week, step=1, refit=week, index=index, verbose=False)
    out = {"mode": mode, "machine": machine_description(), "config": cfg, "backtests": {}}
    timings = {}
    for name, h in (("1h", 1), ("24h", 24)):
        t0 = time.perf_counter()
        r = backtest(dict(cfg, horizon=h), X, y, n_jobs=1, **bt)
        timings[name] = time.perf_counter() - t0
        out["backtests"][name] = summary(r)
        if name == "1h":
            first = r
    t0 = time.perf_counter()
    again = backtest(dict(cfg, horizon=1), X, y, n_jobs=n_jobs, **bt)
    out["speedup"] = {"n_jobs": n_jobs, "seconds_1": timings["1h"], "seconds_n": time.perf_counter() - t0,
                      "same_numbers": bool(np.array_equal(first.forecasts, again.forecasts))}
    out["speedup"]["ratio"] = out["speedup"]["seconds_1"] / out["speedup"]["seconds_n"]
    ens = LSTMEnsemble(cfg, n_members=m["members"], n_jobs=n_jobs).fit(X[:test], y[:test], verbose=False)
    L = cfg["sequence_length"]
    ev = ens.evaluate(X[test - L:], y[test - L:], levels=(0.8, 0.95), verbose=False)
    out["ensemble"] = {"members": m["members"], "rmse": ev["rmse"], "mae": ev["mae"], "member_rmse": ev["member_rmse"],
                       "intervals": {str(k): v for k, v in ev["intervals"].items()}, "n_scored": ev["n_scored"],
                       "calibration_windows": int(len(ens.residuals))}
    sw = sweep(m["grid"], X[:test], y[:test], config=cfg, cv=0.1, n_jobs=n_jobs, verbose=False)
    out["sweep"] = [{k: t[k] for k in ("rank", "params", "score", "fit_seconds", "status", "error")}
                    for t in sw.trials]
    out["_first"] = first
    return out


def summary(r):
    """The overall and per-fold numbers of a BacktestResult, as plain JSON."""
    keys = ("rmse", "mae", "mape")
    return {"overall": {"model": {k: r.metrics[k] for k in keys},
                        **{b: {k: m[k] for k in keys} for b, m in r.metrics["baselines"].items()}},
            "folds": [{"fit_origin": f["fit_origin"], "fit_seconds": f["fit_seconds"],
                       "rmse": {n: m["rmse"] for n, m in f["metrics"].items()}} for f in r.folds],
            "n_origins": int(len(r.origins)), "season": r.metrics["season"]}


def report(res):
    """Markdown: the backtest table (1 h and 24 h), the ensemble's intervals, the sweep, the speed-up."""
    b1, b24 = res["backtests"]["1h"], res["backtests"]["24h"]
    names = list(b1["overall"])
    label = {"model": "**minilstm LSTM**", "seasonal_naive": f"seasonal naive ({b1['season']} h)",
             "linear_ar": "linear autoregression (same windows)", "mean": "training mean"}
    rows = []
    for n in names:
        spread = [f["rmse"][n] for f in b1["folds"]]
        rows.append([label.get(n, n),
                     f"{b1['overall'][n]['rmse']:.1f}", f"{min(spread):.0f}-{max(spread):.0f}",
                     f"{b1['overall'][n]['mape']:.2f}", f"{b24['overall'][n]['rmse']:.1f}",
                     f"{b24['overall'][n]['mape']:.2f}"])
    weeks = len(b1["folds"])
    text = [f"Backtest: {weeks} weekly folds from 2014-01-01 (refitted weekly on every earlier hour; "
            f"{b1['n_origins']} hourly forecast origins), demand in MW:", "",
            markdown_table(["method", "1 h RMSE", "1 h weekly RMSE range", "1 h MAPE %", "24 h RMSE", "24 h MAPE %"],
                           rows), ""]
    e = res["ensemble"]
    iv = e["intervals"]
    text += [f"Ensemble of {e['members']} seeds, 1 hour ahead, every hour of 2014 ({e['n_scored']} targets); "
             f"intervals calibrated on {e['calibration_windows']} windows at the end of 2013:", "",
             markdown_table(["ensemble RMSE", "members' RMSE", "80% interval coverage", "95% interval coverage",
                             "80% width", "95% width"],
                            [[f"{e['rmse']:.1f}", f"{min(e['member_rmse']):.1f}-{max(e['member_rmse']):.1f}",
                              f"{iv['0.8']['coverage']:.1%}", f"{iv['0.95']['coverage']:.1%}",
                              f"{iv['0.8']['mean_width']:.0f}", f"{iv['0.95']['mean_width']:.0f}"]]), ""]
    keys = sorted({k for t in res["sweep"] for k in t["params"]})
    text += ["Sweep (holdout: the last 10% of 2012-2013):", "",
             markdown_table(["rank", *keys, "RMSE", "fit s"],
                            [[t["rank"] or "failed", *[t["params"][k] for k in keys],
                              f"{t['score']:.1f}" if t["status"] == "ok" else t["error"][:40],
                              f"{t['fit_seconds']:.0f}"] for t in res["sweep"]]), ""]
    s = res["speedup"]
    text += [f"The 1-hour backtest ({weeks} fits): n_jobs=1 {s['seconds_1']:.0f} s, n_jobs={s['n_jobs']} "
             f"{s['seconds_n']:.0f} s, speed-up **{s['ratio']:.2f}x** "
             f"({'the same numbers' if s['same_numbers'] else 'DIFFERENT numbers'}; one thread per fit either way)."
             f" {res['machine']}."]
    return "\n".join(text)


def replace_readme(readme, markdown):
    """The README text with the block between the bench_backtest markers replaced by ``markdown``."""
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {README_START} ... {README_END} block to replace.")
    return pattern.sub(lambda _: f"{README_START}\n{markdown}\n{README_END}", readme)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few weeks of data and tiny models (seconds)")
    p.add_argument("--jobs", type=int, default=2, help="n_jobs of the parallel runs (default 2)")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for backtest.{json,md,png}")
    p.add_argument("--readme", action="store_true", help="also replace the README's tables with these")
    a = p.parse_args(argv)
    res = run("quick" if a.quick else "full", n_jobs=a.jobs)
    first = res.pop("_first")
    text = report(res)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "backtest.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "backtest.md"), "w") as f:
        f.write(text + "\n")
    first.plot(os.path.join(a.out, "backtest.png"))
    if a.readme:
        path = os.path.join(HERE, os.pardir, "README.md")
        with open(path) as f:
            new = replace_readme(f.read(), text)
        with open(path, "w") as f:
            f.write(new)
    return res


if __name__ == "__main__":
    main()
