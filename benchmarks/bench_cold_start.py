"""The first run's compilation: the README's Basic usage with an empty kernel cache against a warm one.

    python benchmarks/bench_cold_start.py               # 3 rounds, the README's 15 epochs
    python benchmarks/bench_cold_start.py --epochs 2    # the same difference, sooner
    python benchmarks/bench_cold_start.py --epochs 2 --without-helper   # and a cold run without compile_ahead

Each run is a fresh process that imports minilstm and runs the README's Basic usage block (load the bundled
electricity data, fit, predict, evaluate); "cold" points NUMBA_CACHE_DIR at a new empty folder (a fresh
install: every kernel compiles), "warm" at a folder a previous run filled. Rounds alternate cold and warm.
Reported: each run's wall seconds, the median of each side and their difference (the compilation a newcomer
waits for once). Writes benchmarks/results/cold_start.{json,md}.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_description, markdown_table, write_results  # noqa: E402

BASIC_USAGE = """
from minilstm import LSTMModel
from minilstm.datasets import load_electricity
ds = load_electricity()
X, y = ds.data, ds.column("Demand")
split = ds.split("2014-06-01")
config = {'input_size': X.shape[1], 'hidden_size': 32, 'num_layers': 2, 'output_size': 1, 'dropout': 0.1,
          'learning_rate': 0.005, 'epochs': EPOCHS, 'batch_size': 64, 'sequence_length': 24, 'device': 'auto'}
model = LSTMModel(config)
model.fit(X[split - 6000:split], y[split - 6000:split], verbose=False)
predictions = model.predict(X[split - 24:])
metrics = model.evaluate(X[split - 24:], y[split - 24:], units=ds.units, verbose=False)
"""


def run(cache_dir, epochs, compile_ahead=True):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=os.path.dirname(HERE),
               MINILSTM_COMPILE_AHEAD="1" if compile_ahead else "0")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", BASIC_USAGE.replace("EPOCHS", str(epochs))], env=env, check=True)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15, help="the README's 15 by default")
    ap.add_argument("--out", default=None, help="folder for the results (default benchmarks/results)")
    ap.add_argument("--without-helper", action="store_true",
                    help="also a cold run with MINILSTM_COMPILE_AHEAD=0 each round (all compiled in one process)")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.epochs < 1:
        ap.error("--rounds and --epochs must be >= 1")
    sides = {"cold": True, "cold, no helper": False} if args.without_helper else {"cold": True}   # compile_ahead
    runs = {k: [] for k in [*sides, "warm"]}
    with tempfile.TemporaryDirectory() as tmp:
        warm = os.path.join(tmp, "warm")
        run(warm, 1)                                                    # fills the warm cache
        for r in range(args.rounds):
            for i, (side, ahead) in enumerate(sides.items()):
                runs[side].append(run(os.path.join(tmp, f"cold{i}_{r}"), args.epochs, compile_ahead=ahead))
            runs["warm"].append(run(warm, args.epochs))
            print(f"  round {r}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    diffs = {side: [c - w for c, w in zip(runs[side], runs["warm"])] for side in sides}
    command = (f"python benchmarks/bench_cold_start.py --rounds {args.rounds} --epochs {args.epochs}"
               + (" --without-helper" if args.without_helper else ""))
    header = ["round", "cold (empty cache) s"] + [f"{k} s" for k in runs if k != "cold"] + ["difference s"]
    table = [[i] + [f"{v[i]:.1f}" for v in runs.values()] + [f"{diffs['cold'][i]:.1f}"] for i in range(args.rounds)]
    alone = ""
    if args.without_helper:
        solo = diffs["cold, no helper"]
        alone = (f" Without the helper process (MINILSTM_COMPILE_AHEAD=0) the first run compiles for "
                 f"{med['cold, no helper'] - med['warm']:.1f} s (every round: {min(solo):.1f}-{max(solo):.1f} s).")
    text = (f"The README's Basic usage ({args.epochs} epochs), each run a fresh process, rounds alternating:\n\n" +
            markdown_table(header, table) +
            f"\n\nMedian cold {med['cold']:.1f} s, warm {med['warm']:.1f} s: the first run compiles for "
            f"{med['cold'] - med['warm']:.1f} s (every round: {min(diffs['cold']):.1f}-{max(diffs['cold']):.1f} s)."
            f"{alone}\n\nCommand: `{command}`\n\nMeasured on {machine_description()}.")
    results = {"machine": machine_description(), "command": command, "epochs": args.epochs, "runs": runs,
               "median": med, "differences": diffs["cold"]}
    out = write_results(results, "cold_start", text, out=args.out)
    print("\n" + text + f"\n\nwritten to {out}/cold_start.*")
    return results


if __name__ == "__main__":
    main()
