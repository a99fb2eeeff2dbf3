"""Command line: ``python -m minilstm demo | gradcheck`` (also the ``minilstm`` console script).

The benchmarks live outside the package, in ``benchmarks/`` (see the README)."""
import argparse
import sys

import numpy as np


def run_gradcheck(args):
    """Gradient check of the whole engine in float64, printed as tables. Exit status 1 on any failure."""
    from . import core, functional as Fn
    from .gradcheck import check_function, check_layer
    from .nn import LSTM

    rng = np.random.default_rng(args.seed)
    reports = []
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
                                  title="lstm_step_forward / lstm_step_backward (one step)"))
    lstm = LSTM(D, H, num_layers=args.layers, dropout=0.3, kernels=args.kernels, seed=args.seed)
    x = rng.standard_normal((B, args.steps, D))
    for loss_on in ("all", "last"):
        reports.append(check_layer(lstm, x, loss_on=loss_on, seed=args.seed))
    head = dict(x=rng.standard_normal((B, H)), W=rng.standard_normal((H, 2)), b=rng.standard_normal(2))

    def head_bwd(dy):
        dx, g = Fn.linear_backward(dy, Fn.linear_forward(head["x"], head["W"], head["b"])[1])
        return {"x": dx, **g}

    reports.append(check_function(lambda x, W, b: Fn.linear_forward(x, W, b)[0], head_bwd, head,
                                  seed=args.seed, title="linear head"))
    for r in reports:
        print(r, end="\n\n")
    ok = all(r.passed for r in reports)
    print(f"gradient check of the engine ({lstm.kernels} kernels): {'ALL PASS' if ok else 'FAILED'}")
    return 0 if ok else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minilstm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradcheck", help="gradient-check the whole engine against finite differences")
    g.add_argument("--layers", type=int, default=2)
    g.add_argument("--steps", type=int, default=5)
    g.add_argument("--kernels", default="numpy", choices=["numpy", "numba", "auto"])
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=run_gradcheck)
    for register in _extra_commands():
        register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def _extra_commands():
    """Sub-commands that live with the layer they drive (the demo, in forecast)."""
    from .forecast.demo import register as demo
    return [demo]


if __name__ == "__main__":
    sys.exit(main())
