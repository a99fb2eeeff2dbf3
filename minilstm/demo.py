"""``python -m minilstm demo``: one-hour-ahead forecast of Victoria's electricity demand.

Trains on 2012-2013 (the last 10% of those windows validate), tests on 2014, prints
the per-epoch progress and a table of the model beside persistence, seasonal naive
and a linear autoregression (all in MW), then writes the model file and PNG plots. ``minilstm.cli``
parses its arguments; ``MINILSTM_FAST=1`` shortens it (``fast_mode``).
"""
import os
import time

FAST_VALUES = ("1", "true", "yes", "on")      # MINILSTM_FAST values that shorten the demo and the backtest


DEMO_CONFIG = {"hidden_size": 64, "num_layers": 2, "dropout": 0.1, "learning_rate": 0.002, "epochs": 30,
               "batch_size": 64, "sequence_length": 24, "patience": 6, "lr_schedule": "cosine", "seed": 0,
               "season": 24}


def fast_mode(environ=None):
    """True when MINILSTM_FAST holds a truthy value (1, true, yes, on); '0', 'false', '' are not."""
    return str((environ if environ is not None else os.environ).get("MINILSTM_FAST", "")).strip().lower() \
        in FAST_VALUES


def demo_data():
    """The demo's data: (dataset, X, y, test_start) with the test year 2014."""
    from . import datasets
    ds = datasets.load_electricity()
    return ds, ds.data, ds.column("Demand"), ds.split("2014-01-01")


def train_demo(seed=0, epochs=None, device="auto", verbose=True, cell="lstm", bidirectional=False, data=None):
    """Train the demo model with one seed on 2012-2013 and score it on 2014 (``cell`` and ``bidirectional``
    as in the config: the same demo with a GRU or a bidirectional layer).

    Returns (model, report, Xt, yt): the fitted LSTMModel, its EvaluationReport on every 2014
    hour (in MW) and the test rows (starting sequence_length hours before 2014, so that the
    first 2014 hour is a target). One seed is one sample: ``benchmarks/bench_demo_seeds.py``
    repeats this over seeds. ``data``: ``demo_data()``'s result, when the caller has it already.
    """
    from .forecast.model import LSTMModel
    ds, X, y, test_start = data if data is not None else demo_data()
    cfg = dict(DEMO_CONFIG, device=device, seed=seed, cell=cell, bidirectional=bidirectional)
    if epochs is not None:
        cfg["epochs"] = epochs
    model = LSTMModel(cfg)
    if verbose:
        print(f"{model}  device={cfg['device']}  seed={seed}")
    model.fit(X[:test_start], y[:test_start], validation_split=0.1, verbose=verbose)
    L = cfg["sequence_length"]
    Xt, yt = X[test_start - L:], y[test_start - L:]
    return model, model.evaluate(Xt, yt, units=ds.units, verbose=False), Xt, yt


def run_demo(args):
    from . import plotting

    t0 = time.perf_counter()
    data = demo_data()
    ds, X, y, test_start = data
    epochs = args.epochs if args.epochs is not None else (2 if fast_mode() else None)
    seed = getattr(args, "seed", 0)
    print(f"minilstm demo: {ds}\ntrain 2012-2013 ({test_start} hours), test 2014 ({len(X) - test_start} hours), "
          f"1 hour ahead, features: {', '.join(ds.columns)}")
    cell, bidirectional = getattr(args, "cell", "lstm"), getattr(args, "bidirectional", False)
    model, res, Xt, yt = train_demo(seed, epochs, args.device, verbose=not args.quiet, cell=cell,
                                    bidirectional=bidirectional, data=data)
    L = model.config["sequence_length"]
    print(f"trained in {time.perf_counter() - t0:.1f}s (best epoch {model.info['best_epoch']}, "
          f"kernels {model.rnn.kernels}, device {model.device})\n\n2014 test year, one hour ahead, in MW "
          f"(seed {seed}; one training run is one sample: other seeds move the LSTM's figures by a few %):")
    print(res)
    best_base = min(res["baselines"], key=lambda b: res["baselines"][b]["rmse"])
    beaten = all(res["rmse"] < m["rmse"] for m in res["baselines"].values())
    kind = f"{'bidirectional ' if model.config['bidirectional'] else ''}{model.config['cell'].upper()}"
    print(f"\n{kind} RMSE {res['rmse']:.1f} MW vs best baseline ({best_base}) "
          f"{res['baselines'][best_base]['rmse']:.1f} MW:"
          f" {'beats every baseline' if beaten else 'does NOT beat every baseline'}")
    os.makedirs(args.out, exist_ok=True)
    path = model.save(os.path.join(args.out, "lstm_model.minilstm"))
    pred = model.predict(Xt)[:-1]                                       # the last window forecasts past 2014
    truth = yt[L:]
    from .forecast.baselines import persistence_forecast
    base = persistence_forecast(yt[:, None], len(truth), L, 1)[:, 0, 0]
    idx = ds.index[test_start:]
    plotting.plot_history(model.train_history, os.path.join(args.out, "history.png"))
    plotting.plot_forecast(truth, pred, base, "persistence", index=idx, units="MW", last=24 * 14,
                           path=os.path.join(args.out, "forecast.png"),
                           title="Victoria demand, last two weeks of 2014, one hour ahead")
    acts = model.gate_activations(Xt, window=-1)            # the last window: the final L hours of 2014
    plotting.plot_gates(acts, units=32, path=os.path.join(args.out, "gates.png"),
                        title=f"Top-layer gates over the last {L} hours of 2014, the window the model reads")
    print(f"wrote {path}, history.png, forecast.png, gates.png to {args.out}/ "
          f"({time.perf_counter() - t0:.1f}s in all)")
    return 0
