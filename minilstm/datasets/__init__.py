"""Real time series bundled with minilstm (see PROVENANCE.md beside this file).

Each loader returns a ``Dataset``: ``data`` (N, F) float64 array, ``frame`` the same values
as a pandas DataFrame indexed by time (its ``attrs`` carry the units and the season, so that
``LSTMModel.evaluate`` reports them), ``columns``, ``index`` (datetime64 per row), ``target``
(the column to forecast), ``units`` (the target's; ``column_units`` for every column),
``season`` (the seasonal-naive period the data's calendar implies) and a description.
Nothing is downloaded: the files ship inside the package.

Seasons: electricity 24 (hourly data, daily cycle), stocks 5 (trading days, weekly cycle),
weather 365 (daily data, yearly cycle: weather has no weekly cycle, so the 7 a daily index
would imply is not used).
"""
import csv
import functools
import gzip
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "load_electricity", "load_stocks", "load_weather"]

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

    @property
    def season(self):
        """The seasonal-naive period implied by the data's calendar (see the module docstring)."""
        return self.extra.get("season")

    @property
    def column_units(self):
        """{column: units} ('' for dimensionless columns)."""
        return dict(self.extra.get("column_units") or {self.target: self.units})

    def column(self, name):
        """One column as a 1-D float array."""
        return self.data[:, self.columns.index(name)]

    @property
    def target_index(self):
        """The position of ``target`` in ``columns``."""
        return self.columns.index(self.target)

    def split(self, date):
        """Row position of the first row at or after ``date`` (e.g. '2014-01-01')."""
        return int(np.searchsorted(self.index, np.datetime64(date)))

    @functools.cached_property
    def frame(self):
        """The data as a pandas DataFrame indexed by time (an attribute, like ``data``; built on first use, then
        the same object: edit a copy, ``ds.frame.copy()``): ``attrs`` holds name, target, units and season.

        Hourly electricity is indexed by tz-aware Australia/Melbourne time (each hour once, so
        ``asfreq('h')`` works across daylight-saving changes); see ``load_electricity``.
        """
        import pandas as pd
        if "utc" in self.extra:
            idx = pd.DatetimeIndex(self.extra["utc"]).tz_localize("UTC").tz_convert(self.extra["tz"])
            idx = pd.DatetimeIndex(idx, freq=self.extra.get("freq"), name="time")
        else:
            idx = pd.DatetimeIndex(self.index, name="time", freq=self.extra.get("freq"))
        f = pd.DataFrame(self.data.copy(), columns=self.columns, index=idx)
        f.attrs.update(name=self.name, target=self.target, units=self.column_units, season=self.season)
        return f

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
    Target: Demand. Rows are consecutive UTC hours.

    Time: ``ds.index`` is naive local (Australia/Melbourne) wall-clock time, as people read it;
    at each end of daylight saving (April) the hour 02:00 occurs twice (3 repeated labels),
    and at each start (October) 02:00 is skipped. ``ds.extra['utc']`` holds the unambiguous
    UTC times, and ``ds.frame`` is indexed by tz-aware Australia/Melbourne time, which tells
    the two 02:00s apart by their offset (+11:00, then +10:00): unique and hourly.
    """
    header, rows = _read("vic_elec_hourly.csv.gz")
    local = np.array([r[0][:16] for r in rows], dtype="datetime64[m]")       # wall-clock local time
    offset = np.array([(1 if r[0][16] == "+" else -1) * (int(r[0][17:19]) * 60 + int(r[0][19:21])) for r in rows])
    utc = local - offset.astype("timedelta64[m]")
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
                   extra={"season": 24, "utc": utc, "tz": "Australia/Melbourne", "freq": "h",
                          "column_units": {"Demand": "MW", "Temperature": "deg C"}})


def load_stocks():
    """Daily closing prices (USD) of AAPL, AMZN, FB and GOOG, 2014-01-02 to 2018-12-31 (1,258 trading days).

    Target: AAPL (choose another with ``ds.column('GOOG')`` etc.).
    """
    header, rows = _read("gafa_close.csv.gz")
    idx = np.array([r[0] for r in rows], dtype="datetime64[D]")
    data = np.array([[float(v) for v in r[1:]] for r in rows])
    return Dataset("stocks", data, header[1:], idx, "AAPL", "USD",
                   "Daily closing prices of Apple, Amazon, Facebook and Google (Yahoo Finance via tsibbledata "
                   "gafa_stock). Trading days only.",
                   extra={"season": 5, "column_units": {c: "USD" for c in header[1:]}})


def load_weather():
    """Daily Seattle weather 2012-2015 (1,461 days): precipitation (mm), temp_max, temp_min (deg C), wind (m/s).

    The categorical ``weather`` label is kept in ``ds.extra['weather']``. Target: temp_max.
    """
    header, rows = _read("seattle_weather.csv.gz")
    idx = np.array([r[0].replace("/", "-") for r in rows], dtype="datetime64[D]")
    data = np.array([[float(v) for v in r[1:5]] for r in rows])
    return Dataset("weather", data, header[1:5], idx, "temp_max", "deg C",
                   "Daily weather in Seattle, NOAA data via vega-datasets.",
                   extra={"weather": np.array([r[5] for r in rows]), "season": 365, "freq": "D",
                          "column_units": {"precipitation": "mm", "temp_max": "deg C", "temp_min": "deg C",
                                           "wind": "m/s"}})


__all__ = ["Dataset", "load_electricity", "load_stocks", "load_weather"]
