"""The command line: ``python -m minilstm demo`` and ``python -m minilstm gradcheck``.

Also installed as the ``minilstm`` console script. Bad arguments get one line on stderr and
exit status 2 (no traceback); ``--help`` on each command says what it does. The benchmarks
live outside the package, in ``benchmarks/`` (see the README).
"""
import argparse
import os
import sys

import numpy as np

from . import __version__

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

Time: {minutes} on a 2-core CPU with the default {epochs} epochs. Measured:
{measured}.
About a minute with --epochs 2 or MINILSTM_FAST=1.

Writes into --out (created if missing; an existing file there is refused):
  lstm_model.minilstm   the fitted model (LSTMModel.from_file or LSTMModel().load)
  history.png           training and validation loss per epoch
  forecast.png          the last two weeks of 2014: demand, forecast, persistence
  gates.png             gate activations of the top layer over one input window"""

DEMO_TIME = {"minutes": "6 to 10 minutes",
             "measured": "10 min 26 s on a 2-core AMD EPYC shared with other jobs; about\n12 s per epoch "
                         "when it had the two cores to itself"}

GRADCHECK_DESCRIPTION = """\
Check the engine's analytic gradients against central finite differences in float64:
one LSTM step (the reference equations), a stacked LSTM layer with dropout over a
sequence (loss on every output, then on the last one), and the linear head. The
layer is checked with the kernels training uses (Numba on the CPU when it is
installed) and with the NumPy reference. Prints one table per check and exits with
status 1 if any check fails."""

KERNEL_CHOICES = ("all", "training", "numpy", "numba")
FAST_VALUES = ("1", "true", "yes", "on")


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
    from . import core, functional as Fn
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
def fast_mode(environ=None):
    """True when MINILSTM_FAST holds a truthy value (1, true, yes, on); '0', 'false', '' are not."""
    return str((environ if environ is not None else os.environ).get("MINILSTM_FAST", "")).strip().lower() \
        in FAST_VALUES


def cuda_install_hint():
    """The command that installs the CUDA extra: editable for a source checkout, from the index otherwise."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(root, "pyproject.toml")):
        return f"pip install -e '.[cuda]' in this checkout ({root}), or pip install 'minilstm[cuda]' for a wheel"
    return "pip install 'minilstm[cuda]' (or pip install -e '.[cuda]' in a source checkout)"


def _check_demo_args(parser, args):
    """Refuse what would fail after training: the output folder, the device. Sets args.epochs."""
    from . import backend
    out = args.out
    if not out or not str(out).strip():
        parser.error("--out is empty; give a folder for the model file and plots")
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out {out!r} is an existing file, not a folder; give a folder (created if missing)")
    parent = os.path.abspath(out)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        parser.error(f"--out {out!r} cannot be created: {parent!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        parser.error(f"--out {out!r} cannot be written: no write permission in {parent!r}; choose another folder")
    if args.device == "cuda" and not backend.cupy_available:
        what = "CuPy is not installed" if getattr(backend, "_cupy", None) is None else "CuPy found no CUDA GPU"
        parser.error(f"--device cuda needs CuPy and an NVIDIA GPU, and {what}. Install it with "
                     f"{cuda_install_hint()}; or use --device cpu")
    if args.epochs is None:
        from .forecast.demo import DEMO_CONFIG
        args.epochs = 2 if fast_mode() else DEMO_CONFIG["epochs"]


def _demo(args):
    from .forecast.demo import run_demo
    return run_demo(args)


# ---- the parser ------------------------------------------------------------------------------------
def build_parser():
    """The argparse parser of ``python -m minilstm`` (one sub-parser per command)."""
    from .forecast.demo import DEMO_CONFIG
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
