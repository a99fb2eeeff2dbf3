"""Real time series bundled with minilstm (see PROVENANCE.md beside this file).

Each loader returns a ``Dataset``: ``data`` (N, F) float64 array, ``columns``,
``index`` (datetime64 per row), ``target`` (the column to forecast), ``units``
and a description. ``ds.frame()`` gives a pandas DataFrame when pandas is installed.
Nothing is downloaded: the files ship inside the package.
"""
import csv
import gzip
import os
from dataclasses import dataclass, field

import numpy as np

_DIR = os.path.join(os.path.dirname(__file__), "data")


@dataclass
class Dataset:
    name: str
    data: np.ndarray
    columns: list
    index: np.ndarray
    target: str
    units: str
    description: str
    extra: dict = field(default_factory=dict)

    def column(self, name):
        """One column as a 1-D float array."""
        return self.data[:, self.columns.index(name)]

    @property
    def target_index(self):
        return self.columns.index(self.target)

    def split(self, date):
        """Row position of the first row at or after ``date`` (e.g. '2014-01-01')."""
        return int(np.searchsorted(self.index, np.datetime64(date)))

    def frame(self):
        import pandas as pd
        return pd.DataFrame(self.data, columns=self.columns, index=pd.DatetimeIndex(self.index, name="time"))

    def __repr__(self):
        return (f"Dataset({self.name!r}: {self.data.shape[0]} rows x {len(self.columns)} columns {self.columns}, "
                f"{self.index[0]} .. {self.index[-1]}, target {self.target!r} in {self.units})")


def _read(name):
    with gzip.open(os.path.join(_DIR, name), "rt", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def load_electricity():
    """Hourly electricity demand of Victoria, Australia, 2012-2014 (26,304 hours), in MW.

    Columns: Demand (MW), Temperature (deg C, Melbourne), Holiday (0/1), Weekend (0/1),
    HourSin, HourCos (hour of local day on the unit circle), DowSin, DowCos (day of week).
    The index is local (Australia/Melbourne) wall-clock time. Target: Demand.
    """
    header, rows = _read("vic_elec_hourly.csv.gz")
    local = np.array([r[0][:16] for r in rows], dtype="datetime64[m]")       # wall-clock local time
    demand, temp, hol = (np.array([float(r[i]) for r in rows]) for i in (1, 2, 3))
    hour = (local.astype("datetime64[h]") - local.astype("datetime64[D]")).astype(int)
    dow = (local.astype("datetime64[D]").astype(int) + 3) % 7                 # 0 = Monday (1970-01-01 was a Thursday)
    data = np.column_stack([demand, temp, hol, (dow >= 5).astype(float),
                            np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                            np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)])
    cols = ["Demand", "Temperature", "Holiday", "Weekend", "HourSin", "HourCos", "DowSin", "DowCos"]
    return Dataset("electricity", data, cols, local, "Demand", "MW",
                   "Victoria (Australia) hourly operational electricity demand with Melbourne temperature, "
                   "2012-01-01 to 2014-12-31 local time (AEMO / BoM via tsibbledata vic_elec).",
                   extra={"season": 24})


def load_stocks():
    """Daily closing prices (USD) of AAPL, AMZN, FB and GOOG, 2014-01-02 to 2018-12-31 (1,258 trading days).

    Target: AAPL (choose another with ``ds.column('GOOG')`` etc.).
    """
    header, rows = _read("gafa_close.csv.gz")
    idx = np.array([r[0] for r in rows], dtype="datetime64[D]")
    data = np.array([[float(v) for v in r[1:]] for r in rows])
    return Dataset("stocks", data, header[1:], idx, "AAPL", "USD",
                   "Daily closing prices of Apple, Amazon, Facebook and Google (Yahoo Finance via tsibbledata "
                   "gafa_stock). Trading days only.", extra={"season": 5})


def load_weather():
    """Daily Seattle weather 2012-2015 (1,461 days): precipitation (mm), temp_max, temp_min (deg C), wind (m/s).

    The categorical ``weather`` label is kept in ``ds.extra['weather']``. Target: temp_max.
    """
    header, rows = _read("seattle_weather.csv.gz")
    idx = np.array([r[0].replace("/", "-") for r in rows], dtype="datetime64[D]")
    data = np.array([[float(v) for v in r[1:5]] for r in rows])
    return Dataset("weather", data, header[1:5], idx, "temp_max", "deg C",
                   "Daily weather in Seattle, NOAA data via vega-datasets.",
                   extra={"weather": np.array([r[5] for r in rows]), "season": 365})


__all__ = ["Dataset", "load_electricity", "load_stocks", "load_weather"]
