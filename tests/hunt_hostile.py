"""A hunt of hostile inputs over the surfaces added since the last hardening (backtest, ensembles, sweeps, parallel
backends, GRU and bidirectional layers, infer, the SIMD products, the kernels' checked entries, pickles, the CLI's
backtest). Not a pytest module: ``python3 tests/hunt_hostile.py`` prints the counts; ``test_robust_hunt.py`` runs a
sample of it under pytest.

Each case is one call with one hostile argument (the others valid). Outcome:
clean   a minilstm error (MiniLSTMError), or a return value that passes the case's check;
unclear any other exception (a leak of NumPy's, pandas' or joblib's error);
wrong   a return value that fails the case's check;
hang    more than HANG_S seconds;
crash   the process died (a group runs in a child process, which reports case by case).
"""
import os
import pickle
import signal
import sys
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # this checkout's minilstm
HANG_S = int(os.environ.get("HUNT_HANG_S", 60))
TINY = {"hidden_size": 2, "num_layers": 1, "sequence_length": 4, "epochs": 1, "batch_size": 16, "seed": 1,
        "patience": None}


class Hang(Exception):
    pass


def hostile_values():
    """Values that are wrong for almost every parameter, and a few right ones."""
    return [None, True, False, 0, 1, -1, 2, 1.5, -0.0, float("nan"), float("inf"), -float("inf"), 10 ** 18, -10 ** 18,
            2 ** 64, "abc", "", "0", "0.8", [], (), {}, [1, 2], [0.5], (0.8, 0.95), [[0.8]], {"a": 1}, set(),
            np.array([]), np.zeros((0, 3)), np.full((3, 3), np.nan), np.int64(3), np.float32(0.5), np.bool_(True),
            b"x", 1j, object(), np.ones((2, 2), dtype=object), lambda *a: None, 1e-300, 0.999999, 10 ** 6]


def series(n=60):
    t = np.arange(n)
    y = np.sin(t / 3.0) + 0.1 * np.cos(t)
    return np.c_[y, np.cos(t / 5.0)], y


def fitted():
    from minilstm.forecast import LSTMEnsemble, LSTMModel
    X, y = series()
    return LSTMModel(TINY).fit(X, y, verbose=False), LSTMEnsemble(TINY, n_members=2).fit(X, y, verbose=False)


def cases():
    """(group, name, thunk, check or None) for every hostile input."""
    import kernel_entries

    from minilstm import nn
    from minilstm.forecast import LSTMEnsemble, backtest, sweep
    from minilstm.forecast.parallel import run_parallel, task
    from minilstm.kernels import numba_cpu
    from minilstm.optim import clip_grad_norm, global_norm
    X, y = series()
    V = hostile_values()
    out = []

    def add(group, name, fn, check=None):
        out.append((group, name, fn, check))

    # ensembles
    for i, v in enumerate(V):
        for p in ("n_members", "seeds", "aggregate", "member_configs", "n_jobs"):
            add("ensemble", f"LSTMEnsemble({p}=V[{i}])", lambda p=p, v=v: LSTMEnsemble(TINY, **{p: v}))
    model, ens = fitted()
    for i, v in enumerate(V):
        add("ensemble", f"predict(steps=V[{i}])", lambda v=v: ens.predict(X, steps=v))
        add("ensemble", f"predict(intervals=V[{i}])", lambda v=v: ens.predict(X, intervals=v))
        add("ensemble", f"quantiles(V[{i}])", lambda v=v: ens.quantiles(v))
        add("ensemble", f"quantiles(0.8, steps=V[{i}])", lambda v=v: ens.quantiles(0.8, steps=v))
        add("ensemble", f"evaluate(levels=V[{i}])", lambda v=v: ens.evaluate(X, y, levels=v, verbose=False))
        add("ensemble", f"forecast(steps=V[{i}])", lambda v=v: ens.forecast(X, steps=v))
        add("ensemble", f"predict(X=V[{i}])", lambda v=v: ens.predict(v))
        add("model", f"gate_activations(layer=V[{i}])", lambda v=v: model.gate_activations(X, layer=v))
        add("model", f"gate_activations(window=V[{i}])", lambda v=v: model.gate_activations(X, window=v))
        add("model", f"gate_activations(direction=V[{i}])", lambda v=v: model.gate_activations(X, direction=v))
    # backtest and sweep
    for i, v in enumerate(V):
        for p in ("start", "step", "steps", "end", "window", "train_size", "refit", "validation_split", "season",
                  "index", "n_jobs", "backend"):
            kw = {"start": 40, **{p: v}}
            add("backtest", f"backtest({p}=V[{i}])", lambda kw=kw: backtest(TINY, X, y, verbose=False, **kw))
        for p in ("params", "scoring", "cv", "n_iter", "seeds", "random_state", "validation_split", "n_jobs"):
            kw = {"params": {"hidden_size": [2]}, **{p: v}}
            add("sweep", f"sweep({p}=V[{i}])", lambda kw=kw: sweep(X=X, y=y, config=TINY, verbose=False, **kw))
        for p in ("n_jobs", "backend"):
            add("parallel", f"run_parallel({p}=V[{i}])",
                lambda p=p, v=v: run_parallel([task(abs, -1), task(abs, -2)], **{p: v}),
                lambda r: r == [1, 2])
    # layers
    for cls in (nn.LSTM, nn.GRU):
        for i, v in enumerate(V):
            for p in ("input_size", "hidden_size", "num_layers", "dropout", "dtype", "seed", "bidirectional",
                      "kernels"):
                add("layers", f"{cls.__name__}({p}=V[{i}])", lambda cls=cls, p=p, v=v: cls(**{"input_size": 2,
                                                                                               "hidden_size": 3, p: v}))
            layer = cls(2, 3, num_layers=2, bidirectional=True)
            add("layers", f"{cls.__name__}.forward(V[{i}])", lambda layer=layer, v=v: layer.forward(v))
            add("layers", f"{cls.__name__}.infer(V[{i}])", lambda layer=layer, v=v: layer.infer(v))
            add("layers", f"{cls.__name__}.forward(x, h0=V[{i}])",
                lambda layer=layer, v=v: layer.forward(np.ones((2, 3, 2)), v))
            add("layers", f"{cls.__name__}.gate_activations(V[{i}])",
                lambda layer=layer, v=v: (layer.forward(np.ones((1, 2, 2))), layer.gate_activations(v)))
    # the same numbers from every kernel family, float32 inputs of every scale
    rng = np.random.default_rng(0)
    for k in range(40):
        scale = 10.0 ** rng.integers(-30, 40)
        x = rng.normal(size=(int(rng.integers(1, 40)), int(rng.integers(1, 6)), 2)) * scale
        for cls in (nn.LSTM, nn.GRU):
            def run(cls=cls, x=x):
                a = cls(2, 3, bidirectional=True, kernels="numba", dtype=np.float32).forward(x)[0]
                b = cls(2, 3, bidirectional=True, kernels="numpy", dtype=np.float32).forward(x)[0]
                return a, b
            add("layers", f"{cls.__name__} numba vs numpy, scale {scale:.0e}", run,
                lambda r: np.allclose(r[0], r[1], rtol=1e-4, atol=1e-5))
    # kernels
    shapes = [((2, 3), (3, 5)), ((1, 64), (64, 256)), ((5, 9), (9, 30)), ((0, 3), (3, 4)), ((3, 0), (0, 4))]
    for (sa, sw) in shapes:
        for dt in (np.float32, np.float64, np.int64, np.complex128, object):
            for layout in ("C", "F", "strided"):
                def run(sa=sa, sw=sw, dt=dt, layout=layout):
                    A, W = np.ones(sa, dtype=dt), np.arange(np.prod(sw)).reshape(sw).astype(dt)
                    if layout == "F":
                        W = np.asfortranarray(W)
                    if layout == "strided":
                        A = np.ones((sa[0], 2 * sa[1] + 1), dtype=dt)[:, ::2][:, :sa[1]]
                    return kernel_entries.product(A, W), A, W
                add("kernels", f"simd.product {sa}x{sw} {np.dtype(dt).name} {layout}", run,
                    lambda r: np.allclose(r[0], r[1].astype(np.float64) @ r[2].astype(np.float64), rtol=1e-5))
    for arg in range(8):
        for i, v in enumerate(V[:20] + ["F", "strided"]):
            def run(arg=arg, v=v):
                H, T = 3, 2
                a = [np.zeros((T, 1, 4 * H)), np.full((H, 4 * H), 0.1), np.zeros(4 * H), np.zeros((T + 1, 1, H)),
                     np.zeros((T + 1, 1, H)), np.zeros((T, 1, 4 * H)), np.zeros((T, 1, H)), np.zeros((1, 4 * H))]
                if isinstance(v, str) and v == "F":
                    a[arg] = np.asfortranarray(a[arg])
                elif isinstance(v, str) and v == "strided":
                    a[arg] = np.zeros(a[arg].shape + (2,))[..., 0]
                else:
                    a[arg] = v
                kernel_entries.forward_loop_b1(*a)
                return a
            add("kernels", f"forward_loop_b1 arg {arg} = {v!r:.20}", run,
                lambda a: np.isfinite(a[3]).all())
    from minilstm import core
    from minilstm.kernels import numba_optim
    for B in (1, 3, 17, 40):
        for layout in ("F", "strided", "C"):
            def run(B=B, layout=layout):
                r = np.random.default_rng(B)
                p = {"W_x": r.normal(size=(2, 12)), "W_h": r.normal(size=(3, 12)), "b": r.normal(size=12)}
                x, G = r.normal(size=(B, 5, 2)), r.normal(size=(B, 5, 3))
                ref = core.lstm_forward(x, None, None, p)
                out = numba_cpu.lstm_forward(x, None, None, p)

                def lay(a):
                    if not isinstance(a, np.ndarray) or a.ndim < 2 or layout == "C":
                        return a
                    return np.asfortranarray(a) if layout == "F" else np.repeat(a, 2, axis=-1)[..., ::2]
                cache = {k: lay(v) for k, v in out[2].items()}
                return core.lstm_backward(G, None, None, ref[2]), numba_cpu.lstm_backward(lay(G), None, None, cache)
            add("kernels", f"lstm_backward B={B} cache {layout}", run,
                lambda r: all(np.allclose(a, b, atol=1e-10) for a, b in zip(r[0][:3], r[1][:3])))
    for i, v in enumerate(V):
        add("kernels", f"adam_update(ps=[V[{i}]])", lambda v=v: numba_optim.adam_update(
            [v], [np.ones(3)], [np.zeros(3)], [np.zeros(3)], 0.1, 0.9, 0.999, 0.1, 0.001, 1e-8))
        add("kernels", f"average_update(ws=[V[{i}]])", lambda v=v: numba_optim.average_update([np.zeros(3)], [v], 0.5))
    for i, v in enumerate(V):
        add("optim", f"global_norm(V[{i}])", lambda v=v: global_norm({"a": v}))
        add("optim", f"clip_grad_norm(max_norm=V[{i}])", lambda v=v: clip_grad_norm({"a": np.ones(3)}, v))
    for scale, dt in ((1e200, np.float64), (1e30, np.float32), (3, np.int64), (2 ** 40, np.int64),
                      (1e-300, np.float64)):
        g = {"a": np.full(7, scale, dtype=dt), "b": -np.full((2, 2), scale, dtype=dt)}
        add("optim", f"global_norm scale {scale} {np.dtype(dt).name}", lambda g=g: global_norm(g),
            lambda n, scale=scale: abs(n - 11 ** 0.5 * float(scale)) <= 1e-6 * 11 ** 0.5 * float(scale))
    # pickles: every byte flip inside the model file's bytes is checked like a file
    for name, obj in (("model", model), ("ensemble", ens), ("layer", nn.GRU(2, 3, num_layers=2))):
        data = pickle.dumps(obj)
        lo = data.index(b"PK\x03\x04")
        for k in range(60):
            pos = lo + int(np.random.default_rng(k).integers(0, len(data) - lo - 40))
            bad = data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1:]
            add("pickle", f"{name} pickle, byte {pos} flipped", lambda bad=bad: pickle.loads(bad), lambda r: True)
    # the CLI's backtest
    from minilstm.cli import main
    for i, argv in enumerate([["--start", "abc"], ["--start", "2030-01-01"], ["--start", "-5"], ["--step", "0"],
                              ["--steps", "999999"], ["--refit", "x"], ["--refit", "-3"], ["--jobs", "0"],
                              ["--jobs", "1000000"], ["--backend", "nope"],
                              ["--window", "sliding", "--train-size", "5"],
                              ["--end", "2000-01-01"], ["--target", "nope"], ["--start", "0.5", "--end", "0.4"]]):
        def run(argv=argv):
            import contextlib
            import io
            import tempfile
            with tempfile.TemporaryDirectory() as d, contextlib.redirect_stderr(io.StringIO()) as err, \
                    contextlib.redirect_stdout(io.StringIO()):
                try:
                    rc = main(["backtest", "stocks", "--out", d, "--start", "0.99", *argv])
                except SystemExit as e:
                    rc = e.code
            return rc, err.getvalue()
        add("cli", f"backtest {' '.join(argv)}", run, lambda r: "Traceback" not in r[1])
    return out


def _alarm(*_):
    raise Hang()


def run_group(group, report):
    """Run one group's cases here, appending 'index outcome name' lines to the report file as they finish."""
    from minilstm.errors import MiniLSTMError
    signal.signal(signal.SIGALRM, _alarm)
    todo = [c for c in cases() if c[0] == group]
    done = set()
    if os.path.exists(report):
        with open(report) as f:
            done = {int(line.split()[0]) for line in f if line.strip()}
    for k, (_, name, fn, check) in enumerate(todo):
        if k in done:
            continue
        with open(report, "a") as f:
            f.write(f"{k} started {name}\n")
        signal.alarm(HANG_S)
        try:
            r = fn()
            outcome = "clean" if check is None or check(r) else "wrong"
        except MiniLSTMError:
            outcome = "clean"
        except Hang:
            outcome = "hang"
        except Exception as e:                       # noqa: BLE001
            outcome = f"unclear {type(e).__name__}: {str(e)[:120]!r} " + \
                traceback.extract_tb(e.__traceback__)[-1].filename.split("site-packages/")[-1]
        finally:
            signal.alarm(0)
        with open(report, "a") as f:
            f.write(f"{k} {outcome} :: {name}\n")


def main():
    import subprocess
    import tempfile
    groups = sys.argv[1:] or ["ensemble", "model", "backtest", "sweep", "parallel", "layers", "kernels", "optim",
                              "pickle", "cli"]
    totals = {"clean": 0, "unclear": 0, "wrong": 0, "hang": 0, "crash": 0}
    lines = []
    for g in groups:
        report = tempfile.mktemp(prefix=f"hunt-{g}-")
        for _ in range(50):                          # a crash ends the child; the next one goes on after it
            subprocess.run([sys.executable, __file__, "--group", g, report], timeout=3600)
            with open(report) as f:
                rows = [line.rstrip("\n") for line in f]
            started = {r.split()[0] for r in rows if r.split()[1] == "started"}
            finished = {r.split()[0] for r in rows if r.split()[1] != "started"}
            crashed = started - finished
            if not crashed:
                break
            with open(report, "a") as f:
                for k in crashed:
                    f.write(f"{k} crash :: {next(r for r in rows if r.startswith(k + ' started'))}\n")
        for r in rows + [line.rstrip("\n") for line in open(report)][len(rows):]:
            kind = r.split()[1]
            if kind != "started":
                totals[kind] += 1
                if kind != "clean":
                    lines.append(f"[{g}] {r}")
    n = sum(totals.values())
    print("\n".join(lines))
    print(f"{n} hostile inputs: " + ", ".join(f"{k} {v}" for k, v in totals.items()) +
          f"; clean {100 * totals['clean'] / max(n, 1):.1f}%")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--group":
        run_group(sys.argv[2], sys.argv[3])
    else:
        main()
