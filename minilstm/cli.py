"""The command line: ``python -m minilstm demo``, ``gradcheck`` and ``backtest``.

Also installed as the ``minilstm`` console script. Bad arguments get one line on stderr and
exit status 2 (no traceback); ``--help`` on each command says what it does. The benchmarks
live outside the package, in ``benchmarks/`` (see the README).
"""
import argparse
import os
import sys

import numpy as np

from ._version import __version__
from .demo import FAST_VALUES, fast_mode  # noqa: F401  (the demo's fast mode; also the backtest's)

DESCRIPTION = """\
minilstm: a from-scratch LSTM engine (hand-written forward pass and backpropagation
through time) with a forecasting API.

Run 'python -m minilstm <command> --help' for what a command does and its options."""

DEMO_DESCRIPTION = """\
Forecast the electricity demand of Victoria, Australia, one hour ahead, with the data
bundled in minilstm (hourly demand in MW, Melbourne temperature, calendar features).
A 2-layer LSTM (64 units) trains on 2012-2013 (its last 10% of windows validate, with
early stopping) and is scored on every hour of 2014 beside persistence, seasonal naive
(24 hours), a linear autoregression, the training mean and zero, all in MW.

Time, measured on an idle 2-core AMD EPYC with the default {epochs} epochs: {warm_s} s
(about {epoch_s} s per epoch); the first run after installing also compiles the Numba kernels
and takes {cold_s} s. With --epochs 2 or MINILSTM_FAST=1: {fast_warm_s} s ({fast_cold_s} s the first
time). Other jobs on the same cores make it several times longer.

Writes into --out (created if missing; files of an earlier run there are replaced, and it says so):
  lstm_model.minilstm   the fitted model (LSTMModel.from_file or LSTMModel().load)
  history.png           training and validation loss per epoch
  forecast.png          the last two weeks of 2014: demand, forecast, persistence
  gates.png             gate activations of the top layer over one input window"""

# Measured with `time python -m minilstm demo` (and MINILSTM_FAST=1), idle 2-core AMD EPYC; "cold": the first run,
# Numba's cache empty (a fresh install). The README's first line and "Demo results" give the same figures (tested).
DEMO_TIME = {"warm_s": 52, "epoch_s": 1.5, "cold_s": 63, "fast_warm_s": 8, "fast_cold_s": 16}

GRADCHECK_DESCRIPTION = """\
Check the engine's analytic gradients against central finite differences in float64:
one LSTM step (the reference equations), a stacked LSTM layer with dropout over a
sequence (loss on every output, then on the last one), and the linear head. The
layer is checked with the kernels training uses (Numba on the CPU when it is
installed) and with the NumPy reference. Prints one table per check and exits with
status 1 if any check fails."""

KERNEL_CHOICES = ("all", "training", "numpy", "numba")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'minilstm demo: error: ... (see --help)' and exit status 2."""

    def error(self, message):
        one_line = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {one_line} (see '{self.prog} --help')\n")


def _int_in(lo, hi, what):
    """An argparse type: an integer in [lo, hi], with a message naming what is expected."""
    def parse(text):
        try:
            value = int(str(text).strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} from {lo} to {hi}, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected {what} from {lo} to {hi}, got {value}")
        return value
    parse.__name__ = what
    return parse


def _version_line():
    from . import backend
    try:
        import numba
        nb = f"numba {numba.__version__}"
    except Exception:
        nb = "numba not installed"
    cuda = "CuPy with a GPU" if backend.cupy_available else "no CuPy/GPU"
    return f"minilstm {__version__} (numpy {np.__version__}, {nb}, {cuda})"


# ---- gradcheck -------------------------------------------------------------------------------------
def training_kernels():
    """The kernel family LSTMModel trains with on the CPU: 'numba' when Numba is installed, else 'numpy'."""
    from .backend import resolve_kernels
    return resolve_kernels("auto", "cpu")


def gradcheck_kernels(choice):
    """--kernels value -> the kernel families to check, reference first."""
    train = training_kernels()
    if choice == "all":
        return ["numpy"] if train == "numpy" else ["numpy", train]
    if choice == "training":
        return [train]
    return [choice]


def run_gradcheck(args):
    """Gradient check of the engine in float64, printed as tables. Exit status 1 on any failure."""
    from . import core
    from . import functional as Fn
    from .gradcheck import check_function, check_layer
    from .nn import LSTM

    rng = np.random.default_rng(args.seed)
    reports, verdicts = [], []
    D, H, B = 3, 4, 2
    p = {"W_x": rng.standard_normal((D, 4 * H)) * 0.5, "W_h": rng.standard_normal((H, 4 * H)) * 0.5,
         "b": rng.standard_normal(4 * H) * 0.5}
    inp = dict(x_t=rng.standard_normal((B, D)), h_prev=rng.standard_normal((B, H)),
               c_prev=rng.standard_normal((B, H)), **p)

    def step_fwd(x_t, h_prev, c_prev, W_x, W_h, b):
        return core.lstm_step_forward(x_t, h_prev, c_prev, {"W_x": W_x, "W_h": W_h, "b": b})[:2]

    def step_bwd(dh, dc):
        cache = core.lstm_step_forward(inp["x_t"], inp["h_prev"], inp["c_prev"], p)[2]
        dx, dh_prev, dc_prev, dp = core.lstm_step_backward(dh, dc, cache)
        return {"x_t": dx, "h_prev": dh_prev, "c_prev": dc_prev, **dp}

    reports.append(check_function(step_fwd, step_bwd, inp, tol=1e-7, seed=args.seed,
                                  title="lstm_step_forward / lstm_step_backward (one step, reference)"))
    x = rng.standard_normal((B, args.steps, D))
    train = training_kernels()
    for kernels in gradcheck_kernels(args.kernels):
        lstm = LSTM(D, H, num_layers=args.layers, dropout=0.3, kernels=kernels, seed=args.seed)
        layer_reports = [check_layer(lstm, x, loss_on=loss_on, seed=args.seed) for loss_on in ("all", "last")]
        for r in layer_reports:
            r.title = f"{r.title}, {lstm.kernels} kernels"
        reports += layer_reports
        role = "reference" if kernels == "numpy" else "fast path"
        role += ", used in training" if kernels == train else ""
        verdicts.append(f"{lstm.kernels} ({role}): {'PASS' if all(r.passed for r in layer_reports) else 'FAIL'}")
    head = dict(x=rng.standard_normal((B, H)), W=rng.standard_normal((H, 2)), b=rng.standard_normal(2))

    def head_bwd(dy):
        dx, g = Fn.linear_backward(dy, Fn.linear_forward(head["x"], head["W"], head["b"])[1])
        return {"x": dx, **g}

    reports.append(check_function(lambda x, W, b: Fn.linear_forward(x, W, b)[0], head_bwd, head,
                                  seed=args.seed, title="linear head"))
    for r in reports:
        print(r, end="\n\n")
    ok = all(r.passed for r in reports)
    if train == "numpy":
        verdicts.append("Numba is not installed: training uses the NumPy reference")
    print(f"gradient check of the engine, LSTM layer kernels: {'; '.join(verdicts)}")
    print("ALL PASS" if ok else "FAILED")
    return 0 if ok else 1


def _check_gradcheck_args(parser, args):
    if args.kernels == "numba" and training_kernels() != "numba":
        parser.error("--kernels numba needs Numba (pip install numba); use --kernels numpy")


# ---- demo ----------------------------------------------------------------------------------------
def cuda_install_hint():
    """The command that installs the CUDA extra: editable for a source checkout, from the index otherwise."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(root, "pyproject.toml")):
        return f"pip install -e '.[cuda]' in this checkout ({root}), or pip install 'minilstm[cuda]' for a wheel"
    return "pip install 'minilstm[cuda]' (or pip install -e '.[cuda]' in a source checkout)"


def check_out(parser, out, files):
    """Refuse, before any work, an --out that cannot hold ``files``; return those of them that exist there.

    demo and backtest treat an existing output alike: it is replaced, and ``announce_replaced`` says so first.
    """
    if not out or not str(out).strip():
        parser.error("--out is empty; give a folder for the output files")
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out {out!r} is an existing file, not a folder; give a folder (created if missing)")
    parent = os.path.abspath(out)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        parser.error(f"--out {out!r} cannot be created: {parent!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        parser.error(f"--out {out!r} cannot be written: no write permission in {parent!r}; choose another folder")
    existing = [f for f in files if os.path.lexists(os.path.join(out, f))]
    for f in existing:
        path = os.path.join(out, f)
        if not os.path.isfile(path) or not os.stat(path).st_mode & 0o222:    # as the model file's writer checks
            parser.error(f"{path!r} exists and is not a writable file, so it cannot be replaced; choose another --out")
    return existing


def announce_replaced(command, out, existing):
    if existing:
        print(f"minilstm {command}: replacing {', '.join(existing)} in {out}/ (use --out to keep them)", flush=True)


DEMO_FILES = ("lstm_model.minilstm", "history.png", "forecast.png", "gates.png")


def _check_demo_args(parser, args):
    """Refuse what would fail after training: the output folder, the device. Sets args.epochs."""
    from . import backend
    args.replaced = check_out(parser, args.out, DEMO_FILES)
    if args.device == "cuda" and not backend.cupy_available:
        what = "CuPy is not installed" if getattr(backend, "_cupy", None) is None else "CuPy found no CUDA GPU"
        parser.error(f"--device cuda needs CuPy and an NVIDIA GPU, and {what}. Install it with "
                     f"{cuda_install_hint()}; or use --device cpu")
    if args.epochs is None:
        from .demo import DEMO_CONFIG
        args.epochs = 2 if fast_mode() else DEMO_CONFIG["epochs"]


def _demo(args):
    from .demo import run_demo
    announce_replaced("demo", args.out, getattr(args, "replaced", []))
    return run_demo(args)


# ---- backtest ------------------------------------------------------------------------------------
BACKTEST_DESCRIPTION = """\
Rolling-origin backtest of an LSTM on a bundled dataset (electricity, stocks, weather) or a CSV
file (a header row; a first column of dates becomes the time index; every other column numeric).
From each origin the model forecasts the next row(s) from the rows before it; each fold's model is
fitted on the rows before its first origin (--refit: once by default, every origin, or every
K-th). Prints the per-fold table and the overall table beside the baselines of evaluate
(persistence, seasonal naive, linear AR, training mean, zero) on the same rows, and writes the
plot to --out/backtest.png (replacing one of an earlier run, and saying so).

The config: --config FILE (a JSON dict of LSTMModel settings), then the flags given, over these
defaults: {defaults} (epochs 1 when MINILSTM_FAST=1). Example:
  python -m minilstm backtest electricity --start 2014-01-01 --end 2014-02-01 --refit 168 --jobs 2"""

BACKTEST_CONFIG = {"hidden_size": 32, "num_layers": 1, "sequence_length": 24, "epochs": 10, "patience": 3,
                   "batch_size": 64, "learning_rate": 0.003, "dropout": 0.0}
BACKTEST_FLAGS = (("hidden_size", int), ("num_layers", int), ("sequence_length", int), ("epochs", int),
                  ("horizon", int), ("output_steps", int), ("batch_size", int), ("learning_rate", float),
                  ("seed", int))


def read_series(source):
    """A bundled dataset name or a CSV path -> (data (N, F), columns, index or None, default target, units)."""
    import csv

    from . import datasets
    from .errors import DataError
    if not os.path.exists(source):
        ds = getattr(datasets, f"load_{source}")()
        return ds.data, list(ds.columns), ds.index, ds.target, ds.units
    if os.path.isdir(source):
        raise DataError(f"{source!r} is a folder; give a CSV file (a header row, then one row per time step).")
    try:
        with open(source, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except UnicodeDecodeError as e:
        raise DataError(f"{source}: not UTF-8 text ({e.reason} at byte {e.start}); save the CSV as UTF-8.") from None
    except (OSError, csv.Error) as e:
        raise DataError(f"{source}: cannot read it as CSV ({e}).") from None
    if len(rows) < 3:
        raise DataError(f"{source}: a CSV needs a header row and data rows, got {len(rows)} row(s).")
    header, body = rows[0], rows[1:]
    index = None
    try:
        float(body[0][0])
    except ValueError:
        try:
            index = np.array([r[0] for r in body], dtype="datetime64[s]")
        except ValueError:
            raise DataError(f"{source}: the first column {header[0]!r} is neither numeric nor dates.") from None
        header, body = header[1:], [r[1:] for r in body]
        if not header:
            raise DataError(f"{source}: after the date column there is no data column; add at least one numeric "
                            "column.")
    try:
        data = np.array(body, dtype=np.float64)
    except ValueError as e:
        raise DataError(f"{source}: every column after the dates must be numeric ({e}).") from None
    return data, header, index, header[0], ""


def read_config(path):
    """--config: a UTF-8 JSON file holding an object of settings -> dict (ConfigError saying what is wrong)."""
    import json

    from .errors import ConfigError
    try:
        with open(path, encoding="utf-8") as f:
            extra = json.load(f)
    except UnicodeDecodeError as e:
        raise ConfigError(f"--config {path!r} is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8 "
                          "JSON.") from None
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"--config {path!r} is not valid JSON ({e}); it must hold an object such as "
                          '{"hidden_size": 32}.') from None
    except OSError as e:
        raise ConfigError(f"--config {path!r} cannot be read ({e.strerror or e}).") from None
    if not isinstance(extra, dict):
        raise ConfigError(f"--config {path!r} must hold a JSON object of settings, got {type(extra).__name__}.")
    return extra


def _check_backtest_args(parser, args):
    from . import datasets
    if not os.path.exists(args.data) and not hasattr(datasets, f"load_{args.data}"):
        parser.error(f"{args.data!r} is neither a file nor a bundled dataset (electricity, stocks, weather)")
    if args.config is not None and not os.path.isfile(args.config):
        parser.error(f"--config {args.config!r} is not a file; give a JSON file holding a dict of settings")
    args.replaced = check_out(parser, args.out, ("backtest.png",))
    refit = args.refit
    args.refit = True if refit == "every" else False if refit == "once" else refit
    if isinstance(args.refit, str):
        try:
            args.refit = int(args.refit)
        except ValueError:
            parser.error(f"--refit must be every, once or a number of origins, got {refit!r}")


def _when(text):
    """--start/--end: a row number, a fraction in (0, 1) or a date."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _backtest(args):
    from .errors import ConfigError
    from .forecast.backtesting import backtest
    announce_replaced("backtest", args.out, getattr(args, "replaced", []))
    data, columns, index, target, units = read_series(args.data)
    target = args.target or target
    if target not in columns:
        raise ConfigError(f"--target {target!r} is not a column; the columns are {columns}.")
    config = dict(BACKTEST_CONFIG, epochs=1 if fast_mode() else BACKTEST_CONFIG["epochs"])
    if args.config:
        config.update(read_config(args.config))
    config.update({k: getattr(args, k) for k, _ in BACKTEST_FLAGS if getattr(args, k) is not None})
    y = data[:, columns.index(target)]
    r = backtest(config, data, y, start=_when(args.start), end=None if args.end is None else _when(args.end),
                 step=args.step, steps=args.steps, refit=args.refit, window=args.window, train_size=args.train_size,
                 index=index, n_jobs=args.jobs, backend=args.backend, verbose=not args.quiet)
    r.metrics["units"] = units
    print(r.table())
    print()
    print(r.metrics.table())
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "backtest.png")
    r.plot(path, units=units)
    print(f"plot: {path}")
    return 0


def _add_backtest(sub):
    b = sub.add_parser("backtest", help="score an LSTM over many rolling forecast origins, beside the baselines",
                       description=BACKTEST_DESCRIPTION.format(
                           defaults=", ".join(f"{k}={v}" for k, v in BACKTEST_CONFIG.items())),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("data", nargs="?", default="electricity",
                   help="electricity (default), stocks, weather, or a CSV file")
    b.add_argument("--target", default=None, help="the column to forecast (default: the dataset's, or a CSV's first)")
    b.add_argument("--config", default=None, metavar="FILE", help="a JSON file with LSTMModel settings")
    for key, kind in BACKTEST_FLAGS:
        b.add_argument("--" + key.replace("_", "-"), dest=key, type=kind, default=None, metavar="V",
                       help=f"config['{key}']")
    b.add_argument("--start", default="0.8", help="first origin: a row, a fraction of the rows or a date (default 0.8)")
    b.add_argument("--end", default=None, help="origins stop before this row, fraction or date (default: the end)")
    b.add_argument("--step", type=_int_in(1, 10 ** 9, "rows between origins"), default=1, metavar="N",
                   help="rows between origins (default 1)")
    b.add_argument("--steps", type=_int_in(1, 10 ** 5, "forecasts per origin"), default=1, metavar="K",
                   help="forecasts per origin (default 1)")
    b.add_argument("--refit", default="once", metavar="R",
                   help="every (a fit per origin), once (default) or K: refit every K-th origin")
    b.add_argument("--window", default="expanding", choices=["expanding", "sliding"],
                   help="fit on every earlier row (default) or on the last --train-size rows")
    b.add_argument("--train-size", type=_int_in(1, 10 ** 9, "rows"), default=None, metavar="N",
                   help="rows per fit with --window sliding (default: the rows before the first origin)")
    b.add_argument("--jobs", type=int, default=1, metavar="N", help="fits at once (default 1; -1: all cores)")
    b.add_argument("--backend", default=None, help="joblib backend: loky (default), dask (a running Client), ray")
    b.add_argument("--out", default="minilstm_output", metavar="DIR", help="folder for backtest.png")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_backtest, check=_check_backtest_args, subparser=b)


# ---- the parser ------------------------------------------------------------------------------------
def build_parser():
    """The argparse parser of ``python -m minilstm`` (one sub-parser per command)."""
    from .demo import DEMO_CONFIG
    parser = _Parser(prog="minilstm", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(title="commands", dest="command", metavar="<command>", required=True)

    d = sub.add_parser("demo", help="forecast real hourly electricity demand, compare with baselines, write plots",
                       description=DEMO_DESCRIPTION.format(epochs=DEMO_CONFIG["epochs"], **DEMO_TIME),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--epochs", type=_int_in(1, 100_000, "a whole number of epochs"), default=None, metavar="N",
                   help=f"training epochs (default {DEMO_CONFIG['epochs']}, with early stopping; "
                        "2 when MINILSTM_FAST is 1, true, yes or on)")
    d.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to train: cuda needs CuPy and an NVIDIA GPU; auto picks cuda when it can "
                        "(default auto)")
    d.add_argument("--out", default="minilstm_output", metavar="DIR",
                   help="folder for the model file and the plots (default minilstm_output)")
    d.add_argument("--seed", type=_int_in(0, 2 ** 32 - 1, "a whole number >= 0"), default=0, metavar="K",
                   help="seed of the weights, dropout and shuffling (default 0); one training run is one sample")
    d.add_argument("--cell", default="lstm", choices=["lstm", "gru"],
                   help="the recurrent cell: lstm (default) or gru, on the same data and budget")
    d.add_argument("--bidirectional", action="store_true",
                   help="read each 24-hour window in both directions (the past only: never the target's future)")
    d.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    d.set_defaults(func=_demo, check=_check_demo_args, subparser=d)

    g = sub.add_parser("gradcheck", help="check the engine's gradients against finite differences",
                       description=GRADCHECK_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--layers", type=_int_in(1, 6, "a number of stacked layers"), default=2, metavar="N",
                   help="stacked LSTM layers in the layer check (1-6, default 2)")
    g.add_argument("--steps", type=_int_in(1, 100, "a number of time steps"), default=5, metavar="T",
                   help="sequence length of the layer check (1-100, default 5)")
    g.add_argument("--kernels", default="all", choices=KERNEL_CHOICES,
                   help="which kernels the layer check runs: all (the NumPy reference and the kernels training "
                        "uses; default), training (only those), numpy (the reference), numba")
    g.add_argument("--seed", type=_int_in(0, 2 ** 32 - 1, "a seed"), default=0, metavar="S",
                   help="seed of the random inputs and upstream gradients (default 0)")
    g.set_defaults(func=run_gradcheck, check=_check_gradcheck_args, subparser=g)
    _add_backtest(sub)
    return parser


def main(argv=None):
    """Entry point. Returns the exit status (0 ok, 1 a failed check or run, 2 bad arguments)."""
    from .errors import MiniLSTMError
    parser = build_parser()
    args = parser.parse_args(argv)
    args.check(args.subparser, args)
    try:
        return args.func(args)
    except MiniLSTMError as e:
        print(f"minilstm {args.command}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"minilstm {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:            # e.g. `python -m minilstm gradcheck | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
