"""``python -m minilstm demo``: one-hour-ahead forecast of Victoria's electricity demand.

Trains on 2012-2013 (the last 10% of those windows validate), tests on 2014, prints
the per-epoch progress and a table of the model beside persistence, seasonal naive
and a linear autoregression (all in MW), then writes the model file and PNG plots.
"""
import os
import time


DEMO_CONFIG = {"hidden_size": 64, "num_layers": 2, "dropout": 0.1, "learning_rate": 0.002, "epochs": 30,
               "batch_size": 64, "sequence_length": 24, "patience": 6, "lr_schedule": "cosine", "seed": 0,
               "season": 24}


def register(sub):
    p = sub.add_parser("demo", help="train on bundled Victorian electricity demand and compare with baselines")
    p.add_argument("--epochs", type=int, default=None, help=f"epochs (default {DEMO_CONFIG['epochs']}; "
                   "MINILSTM_FAST=1 makes it 2)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", default="minilstm_output", help="folder for the model file and plots")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    p.set_defaults(func=run_demo)


def run_demo(args):
    from .. import datasets, plotting
    from .model import LSTMModel

    t0 = time.perf_counter()
    ds = datasets.load_electricity()
    X, y = ds.data, ds.column("Demand")
    test_start = ds.split("2014-01-01")
    cfg = dict(DEMO_CONFIG, device=args.device)
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    elif os.environ.get("MINILSTM_FAST"):
        cfg["epochs"] = 2
    L = cfg["sequence_length"]
    print(f"minilstm demo: {ds}\ntrain 2012-2013 ({test_start} hours), test 2014 ({len(X) - test_start} hours), "
          f"1 hour ahead, features: {', '.join(ds.columns)}")
    model = LSTMModel(cfg)
    print(f"{model}  device={cfg['device']}")
    model.fit(X[:test_start], y[:test_start], validation_split=0.1, verbose=not args.quiet)
    print(f"trained in {time.perf_counter() - t0:.1f}s (best epoch {model.info['best_epoch']}, "
          f"kernels {model.lstm.kernels}, device {model.device})\n\n2014 test year, one hour ahead, in MW:")
    # the test windows start L hours before 2014 so that every 2014 hour is a target
    Xt, yt = X[test_start - L:], y[test_start - L:]
    res = model.evaluate(Xt, yt, verbose=True)
    best_base = min(res["baselines"], key=lambda b: res["baselines"][b]["rmse"])
    beaten = all(res["rmse"] < m["rmse"] for m in res["baselines"].values())
    print(f"\nLSTM RMSE {res['rmse']:.1f} MW vs best baseline ({best_base}) "
          f"{res['baselines'][best_base]['rmse']:.1f} MW:"
          f" {'beats every baseline' if beaten else 'does NOT beat every baseline'}")
    os.makedirs(args.out, exist_ok=True)
    path = model.save(os.path.join(args.out, "lstm_model.minilstm"))
    pred = model.predict(Xt)[:-1]                                       # the last window forecasts past 2014
    truth = yt[L:]
    from .metrics import persistence_forecast
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
