"""Peer benchmark: ``LSTMModel`` at its defaults against statsforecast and Darts, H steps ahead from rolling origins.

    python benchmarks/bench_peers.py                  # every series, seeds 0 1 2, every side (about 9 min on 2 cores)
    python benchmarks/bench_peers.py --quick          # 3 short series, seed 0, 3 epochs, no Darts (the tests run it)
    python benchmarks/bench_peers.py --set classic    # 11 series the defaults were never chosen on (about 12 min)
    python benchmarks/bench_peers.py --series nottem victoria --seeds 0 --sides minilstm stats
    python benchmarks/bench_peers.py --sides minilstm --minilstm-config '{"hidden_size": 32}' --label h32
    python benchmarks/bench_peers.py --csv my_series.csv --season 12 --horizon 6 --label mine
    python benchmarks/bench_peers.py --csv half_hourly.csv --season 48 336 --horizon 48 --sides minilstm stats

The peers are benchmark-only dependencies (the extra ``minilstm[peers]``; minilstm never imports them). Give
them their own environment, since statsforecast needs pandas < 3 (minilstm works with both):
``python -m venv --system-site-packages .venv-peers`` and
``.venv-peers/bin/pip install "statsforecast>=2" "darts[torch]>=0.30" "torch==2.13.0"``, then run the commands
above with ``.venv-peers/bin/python`` (the script imports this checkout's minilstm). A side whose
package is missing is skipped with a printed notice.

Series (one fixed split each, rows in time order):

- the eleven classic series in ``benchmarks/data/dev_series/`` (R's ``datasets``; their README gives the
  frequency): season m = 4 quarterly, 12 monthly, 1 annual or other (lynx's 10-year cycle is not a calendar
  season). Horizon H (statsforecast's ``h``): 12 monthly, 8 quarterly (two years), 10 annual and other.
  Test span = the last max(2H, ceil(20% of the rows)) rows; training span = the rows before it.
- ``victoria``: the bundled hourly Victoria demand (``load_electricity()``), the target 'Demand' alone
  (univariate: no temperature or calendar inputs, for any method), H = 24 (one day), seasons 24 and 168.
  Kept tractable: the 3024 hours ending 2014-11-30 23:00 local time, train = the first 2688 (16 weeks, from
  2014-07-27 23:00: daylight saving starts inside them), test = the last 336 (2014-11-17..30), an origin every
  24 hours (each local midnight: 14 origins).
- ``weather``: the bundled daily Seattle maximum temperature (``load_weather()``, 'temp_max'), H = 14,
  season 365 (a year: temperature has a yearly cycle and no weekly one, so season 7 would only be a worse
  naive), train 2012-2014 (1096 days), test 2015 (365 days), an origin every 7 days from 2015-01-01 (51
  origins: with one every day MSTL alone took over 4 minutes, re-decomposing each origin's 3-4 years).

``--set classic`` runs, instead, eleven series the defaults were never chosen on (``data/heldout/classic/README.md``),
the same protocol, each with the dates of its rows: airpassengers, wineind, the last 600 months of sunspots and
elnino (monthly: m = 12, H = 12); woolyrnq, US real GDP and unemployment (quarterly: 4, 8); yearly sunspots (1, 10);
heartrate (no calendar: 1, 10); the last 780 weeks of Mauna Loa CO2 (weekly: 52, 13; AutoARIMA is not run above a
season of 24, as for Victoria); and England and Wales' half-hourly demand in the summer of 2000 (Taylor's series,
``data/heldout/``: seasons 48 and 336, H = 48, train 10 weeks, test 2, an origin each midnight).

Protocol (every method alike): fit once on the training span; from each origin o (the first target's row)
forecast rows o..o+H-1 using only rows before o; every origin in the test span whose H targets lie inside it
(stride 1 unless stated). Errors are pooled over all origins and steps: RMSE, MAE, MASE and bias (mean of
forecast - actual). MASE's scale is the in-sample seasonal-naive MAE of the training rows, mean |y_t - y_{t-m}|
(m = 1: the naive); a seasonal scale of zero (the same value every season) or a training span no longer than
m falls back to the naive scale with a printed note, and a constant training span (naive scale zero) gets no
MASE (printed; RMSE and MAE are still given). Seconds = fit + every origin's forecast, single
threaded (OMP/BLAS/Numba/torch limited to one thread); each method first runs once untimed on a toy series so
JIT compilation is not counted.

Methods:

- ``minilstm``: ``LSTMModel({'output_steps': H, 'seed': s, 'device': 'cpu'})``: the user gives the horizon only,
  every other key at its default (its window chosen by ``fit`` from the season it finds,
  ``seasons.window_length``: the notes say which, and where it differs from the W below) (``DEFAULTS``: 2x64 LSTM, 100 epochs with early stopping on the last 10% of the
  windows, ...), ``fit(y_train)`` (y omitted: the series forecasts itself; a pandas Series with the rows'
  dates where the series has a calendar: monthly, quarterly, annual, hourly, daily), then ``predict`` on the windows
  [o - W, o). ``--minilstm-config JSON`` merges a dict over that config (ablations).
  The window W of the other methods, a user's choice: max(20, H, 2m) with m the shortest season
  of at most 52 rows (so the window holds two seasons: 24 monthly, 48 hourly; a yearly season of daily data
  is not put in the window: 20 for the weather), capped so the training span holds the window and its H
  targets twice (W <= n_train // 2 - H: 12 for USAccDeaths). With that cap every series keeps minilstm's
  default validation split (``validation_split=0.1``); nothing else is changed for short series.
- ``darts_lstm``: Darts' ``BlockRNNModel(model='LSTM', input_chunk_length=W, output_chunk_length=H,
  n_epochs=<minilstm's DEFAULTS['epochs']>, random_state=s)`` at Darts' defaults otherwise (25 hidden units,
  one layer, Adam 1e-3, batch 32, no early stopping), on a float32 ``TimeSeries`` min-max scaled by Darts'
  ``Scaler`` fitted on the training span; one ``fit``, then ``historical_forecasts(series, start=n_train,
  start_format='position', forecast_horizon=H, stride=stride, retrain=False, last_points_only=False)``.
- statsforecast (``StatsForecast(models=[model], freq=1, n_jobs=1).cross_validation(df, h=H,
  step_size=stride, n_windows=<origins>, refit=False)``: with ``refit=False`` each model is fitted once on the
  rows before the first cutoff and then applied to each later origin's history by its ``forward`` method,
  without re-estimating; checked in the tests): ``SeasonalNaive(m)``, ``AutoETS(season_length=m)``
  (statsforecast fits a non-seasonal ETS when m > 24), ``AutoARIMA(season_length=m)`` (skipped, with a
  printed reason, when m > 24 or m x training rows > 20,000: a seasonal ARIMA at lag 365 is impractical, and
  AutoARIMA(season_length=24) on Victoria's 2688 training hours had not finished after 8 minutes), and
  ``MSTL(season_length=seasons)`` where a series has several seasons or one longer than 24 rows (its default
  trend forecaster, ``AutoETS(model='ZZN')``). "Best statistical method" = the lowest MASE among AutoETS,
  AutoARIMA and MSTL. Each model is run in its own ``StatsForecast`` so each is timed alone.

Neural methods run with every seed (default 0 1 2): mean and range (min-max) over seeds. Summary: minilstm's
MASE (mean over seeds) over the best statistical method's, per series; the median and max of those ratios;
and minilstm against Darts' LSTM per series (win: a lower mean MASE).

Results: ``benchmarks/results/peers.{json,md,png}`` for the full run; ``--label NAME`` writes
``peers_NAME.*`` (so ablations sit side by side), a subset without a label ``peers_partial.*``, ``--quick``
``peers_quick.*``. Methods left out of a run (``--sides minilstm``) are read from ``results/peers.json``
(``--compare-with``) for the series whose protocol matches, and marked as such, so an ablation of minilstm
alone still prints its ratios to the peers; its table adds minilstm's MASE over that file's minilstm (the
defaults) per series, and their median. ``--skip victoria`` leaves out the slowest series (2 of an ablation's
3 minutes).
"""
import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
import warnings

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
if __name__ == "__main__":                      # before NumPy, Numba or torch start their thread pools
    for _k in THREAD_VARS:
        os.environ[_k] = "1"

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)                        # this checkout's minilstm, not another installed copy
from common import machine_description, markdown_table, write_results  # noqa: E402

DATA = os.path.join(HERE, "data", "dev_series")
# name: frequency (from the folder's README); season and horizon follow from it
DEV_SERIES = {
    "UKgas": "quarterly", "JohnsonJohnson": "quarterly", "austres": "quarterly",
    "USAccDeaths": "monthly", "UKDriverDeaths": "monthly", "nottem": "monthly",
    "lynx": "annual", "Nile": "annual", "LakeHuron": "annual", "WWWusage": "other", "BJsales": "other",
}
BUNDLED = ["victoria", "weather"]
SERIES = list(DEV_SERIES) + BUNDLED
# --set classic: series the defaults were never chosen on (data/heldout/classic/README.md): name: (frequency,
# seasons, H); and England and Wales' half-hourly demand (data/heldout/, 10 + 2 weeks, a day ahead from each midnight)
CLASSIC_DATA = os.path.join(HERE, "data", "heldout", "classic")
CLASSIC = {
    "airpassengers": ("monthly", [12], 12), "wineind": ("monthly", [12], 12), "sunspots_monthly": ("monthly", [12], 12),
    "elnino": ("monthly", [12], 12), "woolyrnq": ("quarterly", [4], 8), "realgdp": ("quarterly", [4], 8),
    "unemp": ("quarterly", [4], 8), "sunspots_yearly": ("annual", [1], 10), "heartrate": ("other", [1], 10),
    "co2_weekly": ("weekly", [52], 13), "england_wales_demand": ("half-hourly", [48, 336], 48),
}
QUICK_SERIES = ["USAccDeaths", "JohnsonJohnson", "Nile"]
SEASON = {"quarterly": 4, "monthly": 12, "annual": 1, "other": 1}
HORIZON = {"monthly": 12, "quarterly": 8, "annual": 10, "other": 10, "hourly": 24, "daily": 14}
STAT_METHODS = ["SeasonalNaive", "AutoETS", "AutoARIMA", "MSTL"]
BEST_OF = ["AutoETS", "AutoARIMA", "MSTL"]      # "the best statistical method"
METHODS = ["minilstm", "darts_lstm"] + STAT_METHODS
SIDES = {"minilstm": ["minilstm"], "darts": ["darts_lstm"], "stats": STAT_METHODS}
ARIMA_MAX_SEASON = 24
ARIMA_MAX_COST = 20_000         # season x training rows: AutoARIMA(24) on Victoria's 2688 hours ran > 8 minutes


# ---- the protocol ------------------------------------------------------------------------------------
def test_size(n, H):
    """Rows in the test span: the last max(2H, ceil(20% of n))."""
    return max(2 * H, math.ceil(0.2 * n))


def forecast_origins(n_train, n, H, stride=1):
    """Origins o (the row of each forecast's first target) in the test span [n_train, n) whose H targets
    y[o:o+H] all lie inside it, every ``stride`` rows from the first test row."""
    return list(range(n_train, n - H + 1, stride))


def choose_window(n_train, H, seasons, default_length):
    """The window W a user picks: max(default_length, H, 2m) with m the shortest season of at most 52 rows,
    capped so the training span holds the window and its H targets twice (W <= n_train // 2 - H)."""
    short = [m for m in seasons if 1 < m <= 52]
    want = max(default_length, H, 2 * min(short)) if short else max(default_length, H)
    cap = n_train // 2 - H
    if cap < 2:
        raise ValueError(f"the training span has {n_train} rows: shorter than two windows of at least 2 inputs and "
                         f"their H={H} targets ({2 * (H + 2)} rows). Use a shorter horizon (--horizon) or a longer "
                         "series.")
    return min(want, cap)


def mase_scale(y_train, m):
    """MASE's denominator: the in-sample seasonal-naive MAE of the training rows, mean |y_t - y_{t-m}|.

    Returns (scale or None, the m used, a note or None). A training span too short for m, or a zero
    seasonal scale (constant seasons), falls back to the naive (m = 1); a constant span gives None (MASE
    skipped)."""
    y = np.asarray(y_train, dtype=np.float64)
    note = None
    if m > 1 and len(y) <= m:
        note = f"the training span ({len(y)} rows) is not longer than the season {m}: MASE uses the naive scale (m=1)"
        m = 1
    if len(y) <= m:
        return None, m, f"the training span has {len(y)} row(s): no MASE scale, MASE skipped"
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    if scale == 0 and m > 1:
        note = (f"the seasonal-naive scale (m={m}) of the training rows is 0 (constant seasons): MASE uses the "
                "naive scale (m=1)")
        m = 1
        scale = float(np.mean(np.abs(y[1:] - y[:-1])))
    if scale == 0:
        return None, m, "the training span is constant (naive MAE 0): MASE is undefined and skipped"
    return scale, m, note


def truth_matrix(y, origins, H):
    """(n_origins, H): the targets y[o:o+H] of each origin."""
    return np.stack([np.asarray(y[o:o + H], dtype=np.float64) for o in origins])


def score(pred, truth, scale):
    """Errors pooled over every origin and step: rmse, mae, mase (None without a scale), bias (mean of
    forecast - actual), and mae_by_step (H values)."""
    e = np.asarray(pred, dtype=np.float64) - truth
    mae = float(np.mean(np.abs(e)))
    return {"rmse": float(np.sqrt(np.mean(e ** 2))), "mae": mae, "mase": None if scale is None else mae / scale,
            "bias": float(np.mean(e)), "mae_by_step": np.mean(np.abs(e), axis=0).round(6).tolist()}


class Series:
    """One series and its fixed protocol: values y (n,), seasons (primary first), horizon H, training rows,
    stride, window W, origins, MASE scale."""

    def __init__(self, name, y, freq, seasons, H, n_train=None, stride=1, note=None, default_length=20, index=None):
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.index = index                                   # the rows' times (a pandas DatetimeIndex), or None
        if not np.isfinite(y).all():
            raise ValueError(f"{name}: the series has missing or infinite values; fill or drop them first.")
        if isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1:
            raise ValueError(f"{name}: the horizon must be an integer >= 1, got {H!r}.")
        n = len(y)
        n_train = n - test_size(n, H) if n_train is None else n_train
        if n_train < 1 or n - n_train < H:
            raise ValueError(f"{name}: a horizon of H={H} is longer than the test span of {n} rows allows (it takes "
                             f"the last max(2H, 20%) = {test_size(n, H)} rows and needs training rows before them). "
                             "Use a shorter horizon (--horizon) or a longer series.")
        self.name, self.y, self.freq, self.seasons, self.H = name, y, freq, list(seasons), int(H)
        self.n, self.n_train, self.stride, self.note = n, int(n_train), int(stride), note
        self.m = self.seasons[0]
        self.W = choose_window(self.n_train, self.H, self.seasons, default_length)
        self.origins = forecast_origins(self.n_train, n, self.H, self.stride)
        self.truth = truth_matrix(y, self.origins, self.H)
        self.scale, self.scale_m, self.scale_note = mase_scale(y[:self.n_train], self.m)
        self.end = self.origins[-1] + self.H                 # rows any method sees (the last target's row + 1)

    def describe(self):
        return {"series": self.name, "freq": self.freq, "seasons": self.seasons, "H": self.H, "W": self.W,
                "n": self.n, "n_train": self.n_train, "n_test": self.n - self.n_train, "stride": self.stride,
                "n_origins": len(self.origins), "mase_m": self.scale_m, "mase_scale": self.scale,
                "notes": [x for x in (self.note, self.scale_note) if x]}

    def signature(self):
        """What must match for results of another run to be compared with this one."""
        return [self.H, self.n, self.n_train, self.stride, self.W]


def read_dev_csv(path):
    """The last column of a CSV (R's datasets layout: row number, time, value; or a single value column)."""
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    values = []
    for r in rows[1:]:
        if r:
            values.append(float(r[-1]) if r[-1] not in ("", "NA") else np.nan)
    return np.asarray(values)


def dev_calendar(path, freq):
    """The times of a dev series' rows as a pandas DatetimeIndex (R's decimal years), or None where the rows have no
    calendar (an index, or minutes): monthly and quarterly rows start a month or quarter, annual rows a year."""
    import csv
    import pandas as pd
    if freq not in ("monthly", "quarterly", "annual"):
        return None
    with open(path, newline="") as f:
        first = float(next(r for r in list(csv.reader(f))[1:] if r)[1])
    n = len(read_dev_csv(path))
    year, part = int(first), first - int(first)
    pandas_freq = {"monthly": "MS", "quarterly": "QS", "annual": "YS"}[freq]
    month = 1 + int(round(part * 12))
    return pd.date_range(pd.Timestamp(year=year, month=month, day=1), periods=n, freq=pandas_freq)


def classic_series(name, default_length=20, horizon=None):
    """A Series of ``--set classic`` (``CLASSIC``), its rows' dates as the index where the file has them."""
    import pandas as pd
    freq, seasons, H = CLASSIC[name]
    if name == "england_wales_demand":
        f = pd.read_csv(os.path.join(HERE, "data", "heldout", "taylor_halfhourly_2000.csv"), parse_dates=["Time"])
        return Series(name, f["Demand"].to_numpy(), freq, seasons, horizon or H, n_train=10 * 336, stride=48,
                      default_length=default_length, index=pd.DatetimeIndex(f["Time"]),
                      note="Taylor's series, June-August 2000: train 10 weeks, test 2, origins each midnight")
    f = pd.read_csv(os.path.join(CLASSIC_DATA, f"{name}.csv"))
    index = None if freq == "other" else pd.DatetimeIndex(pd.to_datetime(f["time"]))
    return Series(name, f["value"].to_numpy(), freq, seasons, horizon or H, default_length=default_length,
                  index=index)


def load_series(name, default_length=20, horizon=None, season=None):
    """A Series for a dev series name, 'victoria', 'weather', or a CSV path; season: None (from the frequency) or a
    list of seasons, the shortest first (a dev series or a CSV file)."""
    from minilstm import datasets
    if name == "victoria":
        ds = datasets.load_electricity()
        end = ds.split("2014-12-01")
        y = ds.column("Demand")[end - 18 * 168:end]
        return Series(name, y, "hourly", [24, 168], horizon or HORIZON["hourly"], n_train=16 * 168,
                      stride=24, default_length=default_length, index=ds.frame.index[end - 18 * 168:end],
                      note="Demand alone (univariate); train 2014-07-27 23:00 (local; 2688 hours, a DST change "
                           "inside) to 2014-11-16 23:00, test 2014-11-17..30; origins each local midnight")
    if name == "weather":
        ds = datasets.load_weather()
        return Series(name, ds.column("temp_max"), "daily", [365], horizon or HORIZON["daily"],
                      n_train=ds.split("2015-01-01"), stride=7, default_length=default_length, index=ds.frame.index,
                      note="temp_max, train 2012-2014, test 2015, season 365, an origin every 7 days")
    if name in CLASSIC:
        return classic_series(name, default_length, horizon)
    if name in DEV_SERIES:
        freq = DEV_SERIES[name]
        path = os.path.join(DATA, f"{name}.csv")
        return Series(name, read_dev_csv(path), freq, list(season or [SEASON[freq]]), horizon or HORIZON[freq],
                      default_length=default_length, index=dev_calendar(path, freq))
    if os.path.isfile(name):
        stem = os.path.splitext(os.path.basename(name))[0]
        return Series(stem, read_dev_csv(name), "other", list(season or [1]), horizon or HORIZON["other"],
                      default_length=default_length)
    raise SystemExit(f"unknown series {name!r}: choose from {SERIES}, or pass a CSV file with --csv")


# ---- the methods ------------------------------------------------------------------------------------
def minilstm_forecasts(model, y, origins, H):
    """(n_origins, H) forecasts of a fitted LSTMModel from every origin o, each from the rows before o only.

    predict gets rows [0, last origin): window j covers rows [j, j + L) and forecasts from origin j + L. The
    network reads that window; an 'ets' baseline's states carry every row before the origin, as a statistical
    model's forecast from that origin does."""
    L = model.config["sequence_length"]
    if origins[0] < L:
        raise ValueError(f"the first origin {origins[0]} has fewer than sequence_length = {L} rows before it.")
    hi = origins[-1]
    P = np.asarray(model.predict(np.asarray(y[:hi], dtype=np.float64), steps=H)).reshape(hi - L + 1, H)
    return P[np.asarray(origins) - L]


def run_minilstm(sp, seed, overrides):
    from minilstm import LSTMModel
    cfg = {"output_steps": sp.H, "seed": seed, "device": "cpu", **overrides}     # the window: minilstm's own choice
    t = time.perf_counter()
    model = LSTMModel(cfg)
    train = sp.y[:sp.n_train]
    if sp.index is not None:                             # with its dates, as an analyst loads it (the season
        import pandas as pd                              # is read from the calendar, as for the other methods)
        train = pd.Series(train, index=sp.index[:sp.n_train], name=sp.name)
    model.fit(train, verbose=False)
    pred = minilstm_forecasts(model, sp.y, sp.origins, sp.H)
    sec = time.perf_counter() - t
    hist = model.train_history
    return pred, sec, {"best_epoch": int(model.info["best_epoch"]), "epochs_run": len(hist),
                       "n_train_windows": model.info["n_train_windows"], "n_val_windows": model.info["n_val_windows"],
                       "best_val_loss": min(h["val_loss"] for h in hist) if hist and hist[0].get("val_loss") is not None
                       else None, "network_kept": model.info.get("network_kept"),
                       "window": int(model.config["sequence_length"])}


def run_darts(sp, seed, epochs):
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel
    series = TimeSeries.from_values(sp.y[:sp.end].astype(np.float32))
    t = time.perf_counter()
    scaler = Scaler()                                       # min-max, fitted on the training span only
    scaler.fit(series[:sp.n_train])
    scaled = scaler.transform(series)
    model = BlockRNNModel(model="LSTM", input_chunk_length=sp.W, output_chunk_length=sp.H, n_epochs=epochs,
                          random_state=seed, pl_trainer_kwargs={"enable_progress_bar": False, "accelerator": "cpu",
                                                                "enable_model_summary": False})
    model.fit(scaled[:sp.n_train], verbose=False)
    fc = model.historical_forecasts(scaled, start=sp.n_train, start_format="position", forecast_horizon=sp.H,
                                    stride=sp.stride, retrain=False, last_points_only=False, verbose=False)
    pred = np.stack([scaler.inverse_transform(f).values().reshape(-1) for f in fc]).astype(np.float64)
    sec = time.perf_counter() - t
    if pred.shape != sp.truth.shape:
        raise RuntimeError(f"Darts returned {pred.shape} forecasts, expected {sp.truth.shape}")
    return pred, sec, {}


def stat_models(sp):
    """{name: statsforecast model or the reason it is skipped} for this series."""
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive
    m = sp.m
    out = {"SeasonalNaive": SeasonalNaive(season_length=m), "AutoETS": AutoETS(season_length=m)}
    if m > ARIMA_MAX_SEASON:
        out["AutoARIMA"] = f"skipped: a seasonal ARIMA with season {m} > {ARIMA_MAX_SEASON} is impractical"
    elif m * sp.n_train > ARIMA_MAX_COST:
        out["AutoARIMA"] = (f"skipped: season {m} x {sp.n_train} training rows > {ARIMA_MAX_COST:,} (AutoARIMA's "
                            "seasonal search takes many minutes there)")
    else:
        out["AutoARIMA"] = AutoARIMA(season_length=m)
    if len(sp.seasons) > 1 or m > 24:
        out["MSTL"] = MSTL(season_length=sp.seasons if len(sp.seasons) > 1 else m)
    else:
        out["MSTL"] = "not run: one season of at most 24 rows (MSTL is for several or long seasons)"
    return out


def stats_frame(y, end):
    import pandas as pd
    return pd.DataFrame({"unique_id": "s", "ds": np.arange(end), "y": np.asarray(y[:end], dtype=np.float64)})


def stats_forecasts(model, y, origins, H, stride):
    """(n_origins, H) forecasts of one statsforecast model, fitted once on the rows before origins[0]
    (``cross_validation(refit=False)``) and applied from each origin by its ``forward``."""
    from statsforecast import StatsForecast
    end = origins[-1] + H
    cv = StatsForecast(models=[model], freq=1, n_jobs=1).cross_validation(
        df=stats_frame(y, end), h=H, step_size=stride, n_windows=len(origins), refit=False)
    alias = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")][0]
    cv = cv.sort_values(["cutoff", "ds"])
    cutoffs = cv["cutoff"].to_numpy().reshape(len(origins), H)
    if not (cutoffs[:, 0] == np.asarray(origins) - 1).all():
        raise RuntimeError("statsforecast's cutoffs do not match the origins")
    return cv[alias].to_numpy(dtype=np.float64).reshape(len(origins), H)


def run_stat(sp, model):
    t = time.perf_counter()
    pred = stats_forecasts(model, sp.y, sp.origins, sp.H, sp.stride)
    return pred, time.perf_counter() - t, {}


def warm_up(sides, epochs):
    """One untimed run of each method on a toy series, so JIT compilation is not timed."""
    y = 10 + np.sin(np.arange(120) * 2 * np.pi / 12) + 0.1 * np.random.default_rng(0).standard_normal(120)
    sp = Series("warm-up", y, "monthly", [12, 24], 12)
    if "minilstm" in sides:
        run_minilstm(sp, 0, {"epochs": 1})
    if "darts" in sides:
        run_darts(sp, 0, 1)
    if "stats" in sides:
        for model in stat_models(sp).values():
            if not isinstance(model, str):
                run_stat(sp, model)


# ---- running and reporting ---------------------------------------------------------------------------
def spread(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals), "values": vals}


def summarize_runs(runs):
    """Per-method entry from its runs (one per seed; one for a deterministic method)."""
    out = {k: spread([r[k] for r in runs]) for k in ("rmse", "mae", "mase", "bias", "seconds")}
    out["mae_by_step"] = np.mean([r["mae_by_step"] for r in runs], axis=0).round(6).tolist()
    extra = [r["extra"] for r in runs if r.get("extra")]
    if extra:
        out["per_seed"] = extra
    return out


def run_series(sp, sides, seeds, epochs, overrides, log=print):
    res = {**sp.describe(), "methods": {}, "skipped": {}}
    if sp.scale_note:
        log(f"  NOTE {sp.name}: {sp.scale_note}")
    tasks = []
    if "minilstm" in sides:
        tasks += [("minilstm", s, lambda s=s: run_minilstm(sp, s, overrides)) for s in seeds]
    if "darts" in sides:
        tasks += [("darts_lstm", s, lambda s=s: run_darts(sp, s, epochs)) for s in seeds]
    if "stats" in sides:
        for name, model in stat_models(sp).items():
            if isinstance(model, str):
                res["skipped"][name] = model
                log(f"  {sp.name:<15} {name:<13} {model}")
            else:
                tasks.append((name, None, lambda model=model: run_stat(sp, model)))
    runs = {}
    for name, seed, fn in tasks:
        try:
            pred, sec, extra = fn()
        except Exception as e:                        # one failing method must not lose the others' results
            res["skipped"][name] = f"failed: {type(e).__name__}: {e}"
            log(f"  {sp.name:<15} {name:<13} FAILED {type(e).__name__}: {e}")
            continue
        r = {**score(pred, sp.truth, sp.scale), "seconds": sec, "extra": extra}
        runs.setdefault(name, []).append(r)
        mase = "n/a" if r["mase"] is None else f"{r['mase']:.3f}"
        log(f"  {sp.name:<15} {name:<13}" + (f" seed {seed}" if seed is not None else "       ") +
            f"  MASE {mase}  RMSE {r['rmse']:.4g}  {sec:6.1f} s" +
            (f"  (best epoch {extra['best_epoch']} of {extra['epochs_run']})" if "best_epoch" in extra else ""))
    for name in METHODS:
        if name in runs:
            res["methods"][name] = summarize_runs(runs[name])
    return res


def series_summary(s):
    """minilstm's MASE over the best statistical method's, and against Darts' LSTM, for one series' results."""
    meth = s["methods"]
    mase = {k: v["mase"]["mean"] for k, v in meth.items() if v.get("mase")}
    best = min((k for k in BEST_OF if k in mase), key=lambda k: mase[k], default=None)
    out = {"best_stat": best, "best_stat_mase": mase.get(best)}
    if "minilstm" in mase and best:
        out["ratio_to_best_stat"] = mase["minilstm"] / mase[best]
    if "minilstm" in mase and s.get("reference_minilstm_mase"):
        out["ratio_to_reference_minilstm"] = mase["minilstm"] / s["reference_minilstm_mase"]
    if "minilstm" in mase and "darts_lstm" in mase:
        out["ratio_to_darts"] = mase["minilstm"] / mase["darts_lstm"]
        out["beats_darts"] = mase["minilstm"] < mase["darts_lstm"]
    return out


def overall_summary(series):
    ratios = [s["summary"]["ratio_to_best_stat"] for s in series if "ratio_to_best_stat" in s["summary"]]
    wins = [s["summary"]["beats_darts"] for s in series if "beats_darts" in s["summary"]]
    out = {"n_series": len(series)}
    if ratios:
        worst = max(series, key=lambda s: s["summary"].get("ratio_to_best_stat", -1))
        out.update(median_ratio_to_best_stat=statistics.median(ratios), max_ratio_to_best_stat=max(ratios),
                   min_ratio_to_best_stat=min(ratios), worst_series=worst["series"],
                   series_beating_best_stat=sum(r < 1 for r in ratios), n_ratios=len(ratios))
    if wins:
        out.update(beats_darts=sum(wins), n_darts=len(wins))
    ref = [s["summary"]["ratio_to_reference_minilstm"] for s in series if "ratio_to_reference_minilstm" in s["summary"]]
    if ref:
        out.update(median_ratio_to_reference_minilstm=statistics.median(ref), n_reference=len(ref),
                   better_than_reference=sum(r < 1 for r in ref))
    return out


def merge_reference(series, path, log=print):
    """Fill methods this run did not compute from an earlier results file, where the protocol matches."""
    if not os.path.isfile(path):
        return
    with open(path) as f:
        ref = {s["series"]: s for s in json.load(f).get("series", [])}
    for s in series:
        r = ref.get(s["series"])
        if r is None or [r.get(k) for k in ("H", "n", "n_train", "stride", "W")] != \
                [s[k] for k in ("H", "n", "n_train", "stride", "W")]:
            continue
        for name, v in r.get("methods", {}).items():
            if name not in s["methods"]:
                s["methods"][name] = {**v, "from": os.path.basename(path)}
            elif name == "minilstm" and v.get("mase"):     # an ablation: the reference run's minilstm, per seed
                s["reference_minilstm_mase"] = v["mase"]["mean"]
        for name, why in r.get("skipped", {}).items():
            s["skipped"].setdefault(name, why)
    log(f"methods not run here are taken from {path} (marked *); its minilstm is an ablation's reference")


def _fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def _cell(entry, key="mase", digits=3):
    if entry is None or entry.get(key) is None:
        return "-"
    s = entry[key]
    mark = "*" if entry.get("from") else ""
    if len(s["values"]) > 1:
        return f"{s['mean']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f}){mark}"
    return f"{s['mean']:.{digits}f}{mark}"


def report(results):
    series, methods = results["series"], [m for m in METHODS if any(m in s["methods"] for s in results["series"])]
    lines = [f"Command: `{results['command']}`", "",
             f"{results['machine']}; {results['versions']}; one thread per method; seeds {results['seeds']} "
             f"(neural: mean (min-max) over seeds); neural epochs {results['epochs']}; minilstm config over "
             f"the defaults: {json.dumps(results['minilstm_config'])}.", "",
             "Rolling origins: fit once on the training span, forecast H steps from every origin using only the "
             "rows before it; errors pooled over origins and steps; MASE scaled by the training span's in-sample "
             "seasonal-naive MAE (season m). minilstm / best stat: minilstm's MASE over the lowest of AutoETS, "
             "AutoARIMA, MSTL. '-': not run (see the notes)." +
             (f" *: taken from {results.get('compare_with')} (this run did not compute it)." if any(
                 e.get("from") for s in series for e in s["methods"].values()) else ""), ""]
    has_ref = any("ratio_to_reference_minilstm" in s["summary"] for s in series)
    hdr = ["series", "H", "m", "W", "origins"] + [f"{m} MASE" for m in methods] + \
        ["minilstm / best stat", "minilstm vs Darts"] + (["minilstm / reference minilstm"] if has_ref else [])
    rows = []
    for s in series:
        sm = s["summary"]
        vs = "-" if "beats_darts" not in sm else ("**win**" if sm["beats_darts"] else "lose") + \
            f" ({sm['ratio_to_darts']:.2f}x)"
        ratio = f"**{sm['ratio_to_best_stat']:.2f}x** ({sm['best_stat']})" if "ratio_to_best_stat" in sm else "-"
        rows.append([s["series"], s["H"], s["mase_m"], s["W"], s["n_origins"]] +
                    [_cell(s["methods"].get(m)) for m in methods] + [ratio, vs] +
                    ([_fmt(sm.get("ratio_to_reference_minilstm"), 2)] if has_ref else []))
    lines.append(markdown_table(hdr, rows))
    o = results["summary"]
    if "median_ratio_to_best_stat" in o:
        lines += ["", "minilstm's MASE over the best statistical method's: median "
                  f"**{o['median_ratio_to_best_stat']:.2f}x**, max **{o['max_ratio_to_best_stat']:.2f}x** "
                  f"({o['worst_series']}), min {o['min_ratio_to_best_stat']:.2f}x; below 1 on "
                  f"{o['series_beating_best_stat']} of {o['n_ratios']} series."]
    if "median_ratio_to_reference_minilstm" in o:
        lines += [f"minilstm's MASE over the reference run's minilstm ({results.get('compare_with')}): median "
                  f"**{o['median_ratio_to_reference_minilstm']:.3f}x**, lower on {o['better_than_reference']} of "
                  f"{o['n_reference']} series."]
    if "beats_darts" in o:
        lines += [f"minilstm beats Darts' BlockRNNModel(model='LSTM') on {o['beats_darts']} of {o['n_darts']} series "
                  "(mean MASE over seeds)."]
    lines += ["", "Seconds (fit + every origin's forecast; neural: mean over seeds):", ""]
    lines.append(markdown_table(["series"] + methods,
                                [[s["series"]] + [_cell(s["methods"].get(m), "seconds", 2) for m in methods]
                                 for s in series]))
    lines += ["", "Every metric (RMSE, MAE and bias in the series' units; bias = mean of forecast - actual):", ""]
    rows = []
    for s in series:
        for m in methods:
            e = s["methods"].get(m)
            if e is None:
                continue
            extra = ""
            if e.get("per_seed") and "best_epoch" in e["per_seed"][0]:
                extra = "best epoch " + "/".join(str(p["best_epoch"]) for p in e["per_seed"]) + " of " + \
                    "/".join(str(p["epochs_run"]) for p in e["per_seed"]) + \
                    f" run; {e['per_seed'][0]['n_train_windows']} training windows"
                kept = [p.get("network_kept") for p in e["per_seed"]]
                if any(k is not None for k in kept):            # results from before the key: not said
                    extra += f"; network kept on {sum(bool(k) for k in kept)} of {len(kept)} seeds"
                windows = sorted({p["window"] for p in e["per_seed"] if "window" in p})
                if windows:
                    extra += f"; window {'/'.join(map(str, windows))} chosen by minilstm" + \
                        ("" if windows == [s["W"]] else f" (the others' W: {s['W']})")
            rows.append([s["series"], m, _cell(e, "rmse", 4), _cell(e, "mae", 4), _cell(e, "mase"),
                         _cell(e, "bias", 4), _cell(e, "seconds", 2), extra])
    lines.append(markdown_table(["series", "method", "RMSE", "MAE", "MASE", "bias", "seconds", "notes"], rows))
    notes = {}                                       # the same note for several series: one line
    for s in series:
        for n in s["notes"] + [f"{k} {v}" for k, v in s["skipped"].items()]:
            notes.setdefault(n, []).append(s["series"])
    if notes:
        lines += ["", "Notes:", ""] + [f"- {', '.join(names)}: {n}" for n, names in notes.items()]
    return "\n".join(lines)


COLORS = {"minilstm": "#d62728", "darts_lstm": "#ff7f0e", "SeasonalNaive": "#7f7f7f", "AutoETS": "#1f77b4",
          "AutoARIMA": "#2ca02c", "MSTL": "#9467bd"}


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    series = results["series"]
    methods = [m for m in METHODS if any(m in s["methods"] for s in series)]
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(series) + 2), 4.2))
    w = 0.8 / max(len(methods), 1)
    xs = np.arange(len(series))
    for k, m in enumerate(methods):
        mean, lo, hi = [], [], []
        for s in series:
            e = (s["methods"].get(m) or {}).get("mase")
            mean.append(e["mean"] if e else np.nan)
            lo.append(max(e["mean"] - e["min"], 0.0) if e else 0)     # equal seeds: a rounding below 0
            hi.append(max(e["max"] - e["mean"], 0.0) if e else 0)
        ax.bar(xs + (k - (len(methods) - 1) / 2) * w, mean, w, yerr=[lo, hi], capsize=1.5, label=m,
               color=COLORS.get(m))
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    ax.set_xticks(xs, [f"{s['series']}\nH={s['H']}" for s in series], fontsize=7)
    ax.set_ylabel("MASE (log scale; lower is better)")
    ax.set_title(f"Rolling-origin MASE per series (neural: mean over seeds {results['seeds']}, bars: range)",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=len(methods), loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def versions():
    out = []
    for mod in ("minilstm", "statsforecast", "darts", "torch", "numpy", "pandas"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except Exception:
            pass
    return ", ".join(out)


def single_thread():
    """One thread for BLAS, Numba and torch (the environment variables are set before NumPy's import)."""
    keep = []
    try:
        from threadpoolctl import threadpool_limits
        keep.append(threadpool_limits(1))
    except ImportError:
        pass
    try:
        import numba
        numba.set_num_threads(1)
    except (ImportError, ValueError):
        pass
    try:
        import torch
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError):
        pass
    return keep


def quiet_peers():
    import logging
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "darts",
                 "pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)


def available_sides(sides, log=print):
    out = []
    for side in sides:
        mod = {"minilstm": "minilstm", "darts": "darts.models", "stats": "statsforecast"}[side]
        try:
            __import__(mod)
            if side == "darts":
                from darts.models import BlockRNNModel
                if not isinstance(BlockRNNModel, type):         # darts without its torch extra
                    raise ImportError("darts is installed without its torch models (pip install 'darts[torch]')")
            out.append(side)
        except ImportError as e:
            log(f"NOTICE: side {side!r} skipped: {e} (pip install -e '.[peers]' in a separate environment: "
                "see this script's docstring)")
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="peers", choices=["peers", "classic"], dest="series_set",
                    help="peers: the 13 series the defaults were chosen on (default); classic: 11 others they were "
                         f"never chosen on ({', '.join(CLASSIC)}), results/peers_classic.*")
    ap.add_argument("--series", nargs="*", default=None, help=f"default: all of {SERIES}")
    ap.add_argument("--skip", nargs="*", default=[], help="series to leave out (e.g. --skip victoria)")
    ap.add_argument("--csv", nargs="*", default=[], help="CSV files (last column = the values) to add as series")
    ap.add_argument("--season", type=int, nargs="+", default=None, help="season m for dev and CSV series, then any "
                    "longer ones (MSTL gets them all: --season 48 336 for half-hourly demand; default: from the "
                    "frequency; 1 for CSV files)")
    ap.add_argument("--horizon", type=int, default=None, help="H for every series run (default: the rule above)")
    ap.add_argument("--seeds", nargs="*", type=int, default=None, help="default 0 1 2 (--quick: 0)")
    ap.add_argument("--sides", nargs="*", default=None, choices=list(SIDES), help="default: all (--quick: no darts)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs for both neural sides (default: minilstm's DEFAULTS['epochs']; --quick: 3)")
    ap.add_argument("--minilstm-config", default="{}", metavar="JSON",
                    help="a dict merged over minilstm's config, e.g. '{\"hidden_size\": 32, \"patience\": null}'")
    ap.add_argument("--label", default=None, help="results go to results/peers_LABEL.{json,md,png}")
    ap.add_argument("--compare-with", default="peers", metavar="STEM",
                    help="results file (results/STEM.json) that supplies the sides not run (default peers; "
                         "'none' for nothing)")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_SERIES}, seed 0, 3 epochs, no Darts")
    ap.add_argument("--results-dir", default=None, help="default benchmarks/results")
    ap.add_argument("--rerender", default=None, metavar="STEM",
                    help="rewrite results/STEM.md and .png from STEM.json (no run), e.g. after a report change")
    args = ap.parse_args(argv)
    try:
        args.minilstm_config = json.loads(args.minilstm_config)
    except json.JSONDecodeError as e:
        ap.error(f"--minilstm-config must be a JSON object, got {args.minilstm_config!r}: {e}")
    if not isinstance(args.minilstm_config, dict):
        ap.error(f"--minilstm-config must be a JSON object (a dict), got {args.minilstm_config!r}")
    if args.epochs is not None and args.epochs < 1:
        ap.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.horizon is not None and args.horizon < 1:
        ap.error(f"--horizon must be >= 1, got {args.horizon}")
    if args.season is not None and (min(args.season) < 1 or args.season != sorted(set(args.season))):
        ap.error(f"--season takes seasons >= 1, shortest first and each once, got {args.season}")
    if args.series_set == "classic" and args.compare_with == "peers":       # its own earlier run, not the peers'
        args.compare_with = "peers_classic"
    args.set_series = list(CLASSIC) if args.series_set == "classic" else SERIES
    if args.skip:
        args.series = [s for s in (args.series or args.set_series) if s not in args.skip]
    if args.series:
        bad = [s for s in args.series + args.skip if s not in SERIES and s not in CLASSIC]
        if bad:
            ap.error(f"unknown series {bad}: choose from {SERIES} (or --csv FILE)")
    if args.label is not None and not args.label.replace("_", "").replace("-", "").isalnum():
        ap.error(f"--label must be letters, digits, '-' or '_', got {args.label!r}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.rerender:
        out_dir = args.results_dir or os.path.join(HERE, "results")
        with open(os.path.join(out_dir, f"{args.rerender}.json")) as f:
            results = json.load(f)
        text = report(results)
        write_results(results, args.rerender, text, lambda p: chart(results, p), out=out_dir)
        print(text)
        return results
    keep = single_thread()  # noqa: F841  (the limit lasts while this object lives)
    quiet_peers()
    from minilstm.forecast.config import DEFAULTS
    from minilstm.forecast.seasons import DEFAULT_WINDOW
    from minilstm.forecast.config import validate_config
    try:
        validate_config(args.minilstm_config)
    except Exception as e:
        raise SystemExit(f"--minilstm-config: {e}")
    overrides = dict(args.minilstm_config)
    default_set = QUICK_SERIES if args.quick and args.series_set == "peers" else args.set_series
    names = args.series if args.series is not None else ([] if args.csv else default_set)
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    sides = args.sides or (["minilstm", "stats"] if args.quick else list(SIDES))
    epochs = args.epochs or (3 if args.quick else DEFAULTS["epochs"])
    if args.epochs or args.quick:
        overrides.setdefault("epochs", epochs)
    sides = available_sides(sides)
    full = not (args.series or args.csv or args.seeds or args.sides or args.quick or args.epochs or args.horizon
                or args.season or args.minilstm_config)
    stem = (f"peers_{args.label}" if args.label else ("peers_classic" if args.series_set == "classic" else "peers")
            if full else "peers_quick" if args.quick else "peers_partial")
    specs = []
    for name in list(names) + list(args.csv):
        try:
            specs.append(load_series(name, DEFAULT_WINDOW, args.horizon, args.season))
        except ValueError as e:
            raise SystemExit(f"error: {e}")
    command = "python benchmarks/bench_peers.py" + ("" if not argv else " " + shlex.join(argv))
    print(command, flush=True)
    t0 = time.perf_counter()
    warm_up(sides, epochs)
    print(f"warm-up (untimed JIT compilation) {time.perf_counter() - t0:.1f} s", flush=True)
    results = {"command": command, "machine": machine_description(), "versions": versions(), "seeds": seeds,
               "sides": sides, "epochs": epochs, "minilstm_config": overrides, "label": args.label,
               "series": []}
    for sp in specs:
        print(f"{sp.name}: n={sp.n}, train {sp.n_train}, H={sp.H}, m={sp.m}, W={sp.W}, "
              f"{len(sp.origins)} origins (stride {sp.stride})", flush=True)
        results["series"].append(run_series(sp, sides, seeds, epochs, overrides,
                                            log=lambda msg: print(msg, flush=True)))
    out_dir = args.results_dir or os.path.join(HERE, "results")
    ref = os.path.join(out_dir, f"{args.compare_with}.json")
    if not args.quick and args.compare_with != "none" and stem != args.compare_with:
        results["compare_with"] = f"{args.compare_with}.json"
        merge_reference(results["series"], ref)
    for s in results["series"]:
        s["summary"] = series_summary(s)
    results["summary"] = overall_summary(results["series"])
    results["total_seconds"] = time.perf_counter() - t0
    text = report(results)
    out = write_results(results, stem, text, lambda p: chart(results, p), out=out_dir)
    print("\n" + text + f"\n\ntotal {results['total_seconds'] / 60:.1f} min; written to {out}/{stem}.*", flush=True)
    return results


if __name__ == "__main__":
    main()
