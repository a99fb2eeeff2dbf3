"""The 'ets' smoother alone, by each ``baseline_criterion``, without its error correction and without its long
season, on the peer benchmark's series and on others.

    python benchmarks/bench_smoother.py            # 13 + 18 + 10 series, four variants (about ten minutes)
    python benchmarks/bench_smoother.py --set heldout

What ``LSTMModel`` forecasts when its network is set aside (most short series, ``info['network_kept']`` False) is
the smoother of ``minilstm/forecast/smoothing.py``, chosen on every training row. This script fits that smoother
directly (no network, so no seeds) four ways: ``aicc``, the default (``baseline_criterion='aicc'``, a long season
tried where ``LSTMModel`` would try one: ``seasons.long_season``, the week of sub-daily data with dates, else from
the autocorrelation, and the error correction of ``smoothing_residuals``); ``aicc_no_correction``, the same without
the error correction (``config['error_correction'] = False``); ``aicc_no_long``, without the long season
(``config['long_season'] = 1``); and
``mae``, the criterion before (no long season). It scores them with ``bench_peers.py``'s protocol: one fixed
split, rolling origins, each forecast from the rows before its origin only, errors pooled over origins and steps,
MASE on the training span's seasonal-naive scale. The window and the horizon are ``bench_peers.py``'s for the
same frequency.

Three sets:

- ``peers``: the 13 series of ``bench_peers.py`` (the set the default was chosen on);
- ``heldout``: 18 real series that ``bench_peers.py`` does not use, so that a criterion chosen there is also judged
  elsewhere: Victoria's hourly temperature (the same 16 + 2 weeks as its demand there; season 24, a day ahead),
  Victoria's daily demand (the bundled hours summed per day; season 7, 14 days ahead), Seattle's daily minimum
  temperature, wind and precipitation (train 2012-2014, test 2015, 14 days ahead from every 7th day), the four
  bundled stocks (daily closes, 10 days ahead), the four indices of ``data/heldout/EuStockMarkets.csv`` (the
  last 600 business days, 10 days ahead), Victoria's half-hourly demand in the winter of 2013 (16 + 2 weeks, a day
  ahead: its week, a long season, is tried), England and Wales' half-hourly demand in the summer of 2000 (Taylor's
  series: 10 + 2 weeks, a day ahead from every midnight; a week whose shape moves) and JFK airport's hourly
  temperature, humidity and wind speed in March-July 2013 (16 + 2 weeks, a day ahead; the week is tried and should
  not be kept) from ``data/heldout/``;
- ``classic``: the series of ``bench_peers.py --set classic`` but England and Wales' demand (in ``heldout``): ten
  classic monthly, quarterly, weekly and yearly series from ``data/heldout/classic/``.

Where statsforecast is installed (the peers' environment, see ``bench_peers.py``), AutoETS fitted once on the
training span and forecasting from every origin is given beside them, and MSTL with both seasons where a series has
two (as ``bench_peers.py`` runs it). Writes ``benchmarks/results/smoother.*``.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import bench_peers as bp  # noqa: E402
from common import machine_description, markdown_table, write_results  # noqa: E402

VARIANTS = {"aicc": ("aicc", True, True), "aicc_no_correction": ("aicc", True, False),    # criterion, long season,
            "aicc_no_long": ("aicc", False, True), "mae": ("mae", False, False)}           # error correction
PAIRS = (("aicc", "mae"), ("aicc", "aicc_no_long"), ("aicc", "aicc_no_correction"))
STATS = ("AutoETS", "MSTL")
HELDOUT = os.path.join(HERE, "data", "heldout")


def heldout_series():
    """The held-out set: a list of bench_peers.Series."""
    import pandas as pd

    from minilstm import datasets
    out = []
    elec = datasets.load_electricity()
    end = elec.split("2014-12-01")
    out.append(bp.Series("victoria temperature", elec.column("Temperature")[end - 18 * 168:end], "hourly", [24, 168],
                         24, n_train=16 * 168, stride=24, note="the hours of bench_peers' victoria"))
    daily = elec.frame["Demand"].resample("D").sum()
    out.append(bp.Series("victoria daily demand", daily.to_numpy(), "daily", [7], 14))
    weather = datasets.load_weather()
    for col in ("temp_min", "wind", "precipitation"):
        out.append(bp.Series(f"seattle {col}", weather.column(col), "daily", [365], 14,
                             n_train=weather.split("2015-01-01"), stride=7))
    stocks = datasets.load_stocks()
    for col in stocks.frame.columns:
        out.append(bp.Series(f"stock {col}", stocks.column(col), "daily", [1], 10))
    eu = pd.read_csv(os.path.join(HELDOUT, "EuStockMarkets.csv"))
    for col in ("DAX", "SMI", "CAC", "FTSE"):
        out.append(bp.Series(f"EuStock {col}", eu[col].to_numpy()[-600:], "daily", [1], 10))
    half = pd.read_csv(os.path.join(HELDOUT, "vic_elec_halfhourly_2013.csv"), parse_dates=["Time"])
    out.append(bp.Series("victoria half-hourly demand", half["Demand"].to_numpy(), "half-hourly", [48, 336], 48,
                         n_train=16 * 336, stride=48, index=pd.DatetimeIndex(half["Time"])))
    taylor = bp.classic_series("england_wales_demand")                  # the same split as bench_peers --set classic
    taylor.name = "England-Wales half-hourly demand"
    out.append(taylor)
    nyc = pd.read_csv(os.path.join(HELDOUT, "nyc_jfk_weather_hourly_2013.csv"), parse_dates=["time_hour"])
    for col in ("temp", "humid", "wind_speed"):
        out.append(bp.Series(f"JFK hourly {col}", nyc[col].to_numpy(), "hourly", [24, 168], 24, n_train=16 * 168,
                             stride=24, index=pd.DatetimeIndex(nyc["time_hour"])))
    return out


def smoother_forecasts(sp, criterion, long=True, correct=True):
    """(n_origins, H) forecasts of the 'ets' smoother chosen by ``criterion`` on sp's training rows, in the units
    the model's normalizer gives it (z-scored on the training rows), from every origin."""
    from minilstm.forecast.seasons import long_season
    from minilstm.forecast.smoothing import ExponentialSmoothing
    x = sp.y[:sp.n_train]
    mu, sd = float(x.mean()), float(x.std()) or 1.0
    ds = np.arange(1, sp.H + 1)
    m2 = long_season(x, sp.m, None if sp.index is None else sp.index[:sp.n_train])[0] if long else 1   # as LSTMModel
    es = ExponentialSmoothing(sp.m, to_raw=[[sd, mu]], criterion=criterion, m2=m2, correct=correct)
    es.fit(((x - mu) / sd)[:, None], sp.W, ds)
    rows = ((sp.y[:sp.origins[-1]] - mu) / sd)[:, None]
    f = es.row_forecasts(rows, sp.W, ds)[:, :, 0] * sd + mu                 # window j forecasts from origin j + W
    return f[np.asarray(sp.origins) - sp.W], es.params[0]


def autoets_forecasts(sp):
    from statsforecast.models import AutoETS
    model = AutoETS(season_length=sp.m if 1 < sp.m <= 24 else 1).fit(sp.y[:sp.n_train])
    return np.stack([model.forward(y=sp.y[:o], h=sp.H)["mean"] for o in sp.origins])


def mstl_forecasts(sp):
    """MSTL with the series' seasons (bench_peers.py's runner), for a series with more than one."""
    from statsforecast.models import MSTL
    return bp.stats_forecasts(MSTL(season_length=sp.seasons), sp.y, sp.origins, sp.H, sp.stride)


def best_stat(row):
    """The lowest MASE of the statistical methods run on a row's series (AutoETS, and MSTL where it ran)."""
    return min(row[k]["mase"] for k in STATS if k in row)


def describe(p):
    form = ("damped trend" if p["phi"] < 1 else "trend") if p["trend"] else "no trend"
    season = ("season" if p["gamma"] > 0 else "fixed season") if p["season"] else "no season"
    season += (f", long season (moving, gamma_long {p['gamma_long']:g})" if p.get("gamma_long") else ", long season"
               ) if p.get("long") else ""
    correction = f", error correction ({len(p['ar'])} lags)" if "ar" in p else ""
    return f"{form}, {season}{', logs' if p['log'] else ''}, alpha {p['alpha']:g}{correction}"


def run(series, with_ets, log=print):
    rows = []
    for sp in series:
        row = {"series": sp.name, "H": sp.H, "m": sp.m, "W": sp.W, "n_train": sp.n_train, "origins": len(sp.origins)}
        for c, (criterion, long, correct) in VARIANTS.items():
            t = time.perf_counter()
            pred, params = smoother_forecasts(sp, criterion, long, correct)
            row[c] = {"mase": bp.score(pred, sp.truth, sp.scale)["mase"], "params": params, "form": describe(params),
                      "seconds": time.perf_counter() - t}
        if with_ets:
            row["AutoETS"] = {"mase": bp.score(autoets_forecasts(sp), sp.truth, sp.scale)["mase"]}
            if len(sp.seasons) > 1:
                row["MSTL"] = {"mase": bp.score(mstl_forecasts(sp), sp.truth, sp.scale)["mase"]}
        log(f"  {sp.name:28s} " + "  ".join(f"{c} {row[c]['mase']:.3f}" for c in (*VARIANTS, *STATS) if c in row))
        rows.append(row)
    return rows


def summary(rows):
    out = {"n": len(rows)}
    for a, b in PAIRS:
        r = np.array([row[a]["mase"] / row[b]["mase"] for row in rows])
        out[f"{a}_over_{b}"] = {"gmean": float(np.exp(np.log(r).mean())), "better": int((r < 0.995).sum()),
                                "worse": int((r > 1.005).sum())}
    if all("AutoETS" in row for row in rows):
        for c in VARIANTS:
            q = np.array([row[c]["mase"] / best_stat(row) for row in rows])
            out[f"median_{c}_over_best_stat"] = float(np.median(q))
            out[f"max_{c}_over_best_stat"] = float(q.max())
    return out


def report(sets):
    text = []
    for name, rows in sets.items():
        ets = all("AutoETS" in row for row in rows)
        header = ["series", "H", "m", "W", "MASE aicc", "MASE aicc, no error correction", "MASE aicc, no long season",
                  "MASE mae", "aicc / mae", "form chosen (aicc)", "form chosen (mae)"] + (
                      ["AutoETS MASE", "MSTL MASE"] if ets else [])
        table = [[r["series"], r["H"], r["m"], r["W"], f"{r['aicc']['mase']:.3f}",
                  f"{r['aicc_no_correction']['mase']:.3f}", f"{r['aicc_no_long']['mase']:.3f}",
                  f"{r['mae']['mase']:.3f}", f"{r['aicc']['mase'] / r['mae']['mase']:.3f}", r["aicc"]["form"],
                  r["mae"]["form"]]
                 + ([f"{r['AutoETS']['mase']:.3f}", f"{r['MSTL']['mase']:.3f}" if "MSTL" in r else "-"] if ets else [])
                 for r in rows]
        s = summary(rows)
        line = " ".join(f"{a} over {b}: geometric mean **{s[f'{a}_over_{b}']['gmean']:.3f}x**, better (by > 0.5%) "
                        f"on {s[f'{a}_over_{b}']['better']}, worse on {s[f'{a}_over_{b}']['worse']} of {s['n']}."
                        for a, b in PAIRS)
        if ets:
            line += "".join(f" {c} over the best of AutoETS and MSTL: median {s[f'median_{c}_over_best_stat']:.2f}x, "
                            f"max {s[f'max_{c}_over_best_stat']:.2f}x." for c in VARIANTS)
        text.append(f"**{name}** series:\n\n{markdown_table(header, table)}\n\n{line}")
    return "\n\n".join(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=["all", "peers", "heldout", "classic"], default="all")
    ap.add_argument("--no-autoets", action="store_true", help="skip AutoETS even where statsforecast is installed")
    ap.add_argument("--out", default=None, help="folder for the results (default benchmarks/results)")
    args = ap.parse_args(argv)
    try:
        import statsforecast  # noqa: F401
        with_ets = not args.no_autoets
    except ImportError:
        with_ets = False
    sets = {}
    if args.set in ("all", "peers"):
        print("peers' series:")
        sets["peers"] = run([bp.load_series(n) for n in bp.SERIES], with_ets)
    if args.set in ("all", "heldout"):
        print("held-out series:")
        sets["heldout"] = run(heldout_series(), with_ets)
    if args.set in ("all", "classic"):                  # bench_peers --set classic's, less England and Wales (held out)
        print("classic series:")
        sets["classic"] = run([bp.classic_series(n) for n in bp.CLASSIC if n != "england_wales_demand"], with_ets)
    command = f"python benchmarks/bench_smoother.py --set {args.set}" + (" --no-autoets" if args.no_autoets else "")
    body = (f"Command: `{command}`\n\nMeasured on {machine_description()}. The 'ets' smoother alone (what LSTMModel "
            "forecasts when its network is set aside), chosen on every training row by each baseline_criterion; "
            "bench_peers.py's protocol (rolling origins, MASE).\n\n" + report(sets))
    results = {"command": command, "machine": machine_description(), "sets": sets,
               "summary": {k: summary(v) for k, v in sets.items()}}
    out = write_results(results, "smoother", body, out=args.out)
    print("\n" + body + f"\n\nwritten to {out}/smoother.*")
    return results


if __name__ == "__main__":
    main()
