"""The season a seasonal-naive baseline uses: given, read from a datetime index's frequency, or inferred from the
autocorrelation of the training targets; the window fit chooses from it (``window_length``: two seasons); the long
season the 'ets' baseline may add (the week of hourly data); and how many targets a season reaches back from.
"""
from statistics import NormalDist

import numpy as np

from ..errors import ConfigError
from .windows import target_rows

DEFAULT_WINDOW = 20     # config['sequence_length'] None: the window without a season to cover, and the least chosen
WINDOW_SEASON_MAX = 52  # a season of up to this many rows gets a window of two seasons (longer: DEFAULT_WINDOW)
MIN_WINDOW = 2          # the shortest window chosen for a short series


def season_info(y, index=None, season=None):
    """{'season', 'season_how'} for a model's info, from ``choose_season`` on the training targets."""
    s, how = choose_season(y, index=index, season=season)
    return {"season": s, "season_how": how}


def autocorrelation(z, max_lag):
    """Sample autocorrelation r_0..r_max_lag of a 1-D series (biased estimator, by FFT). Returns (max_lag + 1,)
    (NaN for a constant series)."""
    z = np.asarray(z, dtype=np.float64)
    z = z / max(np.abs(z).max(), np.finfo(np.float64).tiny)            # scale first: no overflow near 1e308
    z = z - z.mean()
    n = len(z)
    f = np.fft.rfft(z, 2 * n)
    a = np.fft.irfft(f * np.conj(f), 2 * n)[:max_lag + 1]
    return a / a[0] if a[0] > 0 else np.full_like(a, np.nan)      # a constant series has no ACF


def _acf_peak(z, max_lag, first=1):
    """The seasonal lag in the ACF of z (n,), or None: see ``infer_season``. ``first``: the first lag
    whose crossing counts (2 on a differenced series, whose lag 1 differencing alone makes negative)."""
    n = len(z)
    r = autocorrelation(z, max_lag + 1)                 # r[max_lag + 1]: a peak at max_lag itself is tested too
    # the search starts after the ACF first crosses zero (a periodic pattern always makes it)
    start = next((k for k in range(first, max_lag) if r[k] <= 0), None)
    if start is None:
        return None
    # null: the short memory up to that crossing, MA(start) -> Bartlett se = sqrt((1 + 2 sum r_j^2) / n)
    se = np.sqrt((1 + 2 * np.sum(r[1:start + 1] ** 2)) / n)
    z_crit = NormalDist().inv_cdf(1 - 0.05 / max(max_lag - start, 1))   # Bonferroni over the lags searched
    k = np.arange(start + 1, max_lag + 1)
    peaks = k[(r[k] > r[k - 1]) & (r[k] >= r[k + 1]) & (r[k] > max(0.1, z_crit * se))]
    if len(peaks) == 0:
        return None
    best = int(peaks[np.argmax(r[peaks])])
    # prefer the fundamental: the shortest significant peak that the best is a multiple of, nearly as high
    for p in peaks:
        q = round(best / p)
        if p < best and abs(best - q * p) <= max(1, 0.02 * best) and r[p] >= 0.6 * r[best]:
            best = int(p)
            break
    # the biased estimator pulls a peak towards lag 0 by a factor (n - k) / n: locate it without that
    d = max(1, best // 50)
    lags = np.arange(max(start + 1, best - d), min(max_lag, best + d) + 1)
    return int(lags[np.argmax(r[lags] * n / (n - lags))])


def infer_season(y, max_lag=None):
    """The seasonal period of y's first column from its autocorrelation, or None when there is none.

    y: (N,) or (N, T). A season is a local maximum of the ACF after its first zero crossing or
    crossing, significant at 5% over all the lags searched (Bonferroni) against the series' own
    short memory (Bartlett's standard error from the lags up to that crossing): first on the
    linearly detrended series (a random walk's long memory makes its wandering insignificant),
    then on the differenced series (a cycle on top of a random walk; its lag-1 dip, made by the
    differencing itself, is not taken for the crossing).
    Of the significant peaks, the highest wins, unless a shorter peak of which it is a multiple
    is nearly as high (24 rather than 168 on hourly demand). Smooth series without a cycle (a
    random walk, an AR(1)) have no such peak: None, and the caller uses persistence. The lags
    searched are 2 .. max_lag (default N // 3: at least three seasons of data).
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    n = len(y)
    max_lag = min(max_lag or n // 3, n // 3)
    if max_lag < 3 or not np.all(np.isfinite(y)) or not np.any(y):
        return None
    y = y / np.abs(y).max()                                              # the ACF does not depend on scale
    t = np.arange(n, dtype=np.float64)
    for z, first in ((y - np.polyval(np.polyfit(t, y, 1), t), 1), (np.diff(y), 2)):
        if np.ptp(z) <= 1e-12 * max(1.0, np.abs(y).max()):
            continue
        lag = _acf_peak(z, min(max_lag, len(z) // 3), first)
        if lag is not None and lag >= 2:
            return lag
    return None


# season implied by the spacing of a datetime index: (spacing in seconds, tolerance, season, name)
_FREQ_SEASONS = [
    (60, 0, 1440, "minutely: daily cycle"), (300, 0, 288, "5-minutely: daily cycle"),
    (600, 0, 144, "10-minutely: daily cycle"), (900, 0, 96, "15-minutely: daily cycle"),
    (1800, 0, 48, "half-hourly: daily cycle"), (3600, 0, 24, "hourly: daily cycle"),
    (86400, 0, 7, "daily: weekly cycle"), (7 * 86400, 0, 52, "weekly: yearly cycle"),
    (30.44 * 86400, 3.5 * 86400, 12, "monthly: yearly cycle"),
    (91.3 * 86400, 4 * 86400, 4, "quarterly: yearly cycle"),
]


def _datetime_values(index):
    """A DatetimeIndex or datetime64 array -> datetime64[s] wall-clock values (N,), or None."""
    if index is None:
        return None
    if getattr(index, "tz", None) is not None:          # pandas tz-aware: local wall-clock time
        index = index.tz_localize(None)
    try:
        a = np.asarray(index)
    except Exception:
        return None
    if a.ndim != 1 or a.dtype.kind != "M" or len(a) < 3:
        return None
    a = a.astype("datetime64[s]")
    return a if not np.isnat(a).any() else None


def _index_of(o):
    """A pandas object's index (a Series or DataFrame: what has ``attrs``), or o itself (an index or array)."""
    return getattr(o, "index", o) if hasattr(o, "attrs") else o


def season_from_index(index):
    """(season, name) implied by a datetime index's spacing, e.g. (24, 'hourly: daily cycle'); (None, '') if unknown.

    index: DatetimeIndex or datetime64 array (N,). The median spacing decides (so the repeated
    or skipped hour of a daylight-saving change does not). Daily data without Saturdays and
    Sundays are business-daily: season 5.
    """
    a = _datetime_values(index)
    if a is None:
        return None, ""
    step = float(np.median(np.diff(a).astype(np.int64)))
    for sec, tol, season, name in _FREQ_SEASONS:
        if abs(step - sec) <= tol:
            if season == 7:
                dow = (a.astype("datetime64[D]").astype(np.int64) + 3) % 7     # 0 = Monday
                if len(a) >= 10 and not np.any(dow >= 5):
                    return 5, "business-daily: weekly cycle"
            return season, name
    return None, ""


def datetime_hint(*objs):
    """The first of objs (pandas objects, DatetimeIndex, datetime64 arrays) that tells a season, or None."""
    for o in objs:
        if o is None:
            continue
        attrs = getattr(o, "attrs", None)
        if isinstance(attrs, dict) and attrs.get("season"):
            return o
        if _datetime_values(_index_of(o)) is not None:
            return o
    return None


def window_length(n_rows, horizon, output_steps, season):
    """config['sequence_length'] None -> (L, how): the window a forecaster picks for this season.

    Two seasons of rows where the season is 2..WINDOW_SEASON_MAX (the pattern twice over: 24 months, 48 hours, 104
    weeks), at least DEFAULT_WINDOW and output_steps; capped so that n_rows (the rows given to fit) hold the window
    and its targets twice (L <= n_rows // 2 - horizon - output_steps + 1, and at least MIN_WINDOW): a short series
    keeps training windows (12 rows for 49 months forecast 12 ahead). A season longer than WINDOW_SEASON_MAX (the
    year of daily data) is not covered: such windows would leave few of them to train on."""
    options = ([(2 * season, f"two seasons of {season} rows")] if 1 < season <= WINDOW_SEASON_MAX else []) + \
        [(DEFAULT_WINDOW, "the default"), (output_steps, "output_steps")]
    want, why = max(options, key=lambda o: o[0])                      # the first of equals
    L = int(max(min(want, n_rows // 2 - horizon - output_steps + 1), MIN_WINDOW))
    return L, why if L == want else f"{why} ({want}), capped by the {n_rows} rows given"


def choose_season(y, index=None, season=None, n_rows=None):
    """The season of the seasonal-naive baseline and how it was chosen: (season, how).

    y: (N,) or (N, T) training targets; index: a DatetimeIndex, a datetime64 array, or a pandas
    object carrying one (``attrs['season']``, set by the bundled datasets' ``frame``, is used
    first); season: a configured season (wins). Order: configured -> the data's own season ->
    the index's frequency -> ``infer_season`` -> persistence (season 1). With ``n_rows`` (the
    rows the baseline will see), a season that no target can reach falls back to persistence.
    ``how`` is a short phrase for the evaluation table.
    """
    if season is not None and not isinstance(season, bool) and int(season) >= 1:
        s, how = int(season), "configured"
    else:
        s, how = None, ""
        attrs = getattr(index, "attrs", None)
        if isinstance(attrs, dict) and attrs.get("season"):
            s, how = int(attrs["season"]), f"the {attrs.get('name', 'dataset')} dataset's season"
        if s is None:
            s, name = season_from_index(getattr(index, "index", index) if attrs is not None else index)
            how = f"from the DatetimeIndex frequency ({name})" if s else ""
        if s is None:
            y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            s = infer_season(y2)
            how = "inferred from the autocorrelation" if s else ""
        if s is None:
            return 1, "persistence: no seasonal peak found in the autocorrelation"
    if n_rows is not None and s > 1 and s >= n_rows:
        return 1, f"persistence: season {s} ({how}) needs more than {s} rows, got {n_rows}"
    return s, how


MAX_LONG_SEASON = 400     # longer cycles are not tried (the smoother solves a d x d system per origin, d > m2)


def long_season(y, m, index=None, configured=None):
    """(m2, how): a second, longer season for the 'ets' baseline to try, or (1, why not). The smoother keeps it only
    where its criterion says it earns its phases (``smoothing.ExponentialSmoothing.with_long_season``).

    y: (N,) or (N, T) training targets; m: the season; index: as ``choose_season``'s; configured: config's
    'long_season' (wins; 1: none). With a datetime index, data spaced below a day with a daily season get the week
    (168 hours, 336 half-hours). Otherwise (no index, or another spacing) the autocorrelation of the detrended series
    (scaled by n / (n - lag), as ``_acf_peak`` locates a peak) decides: where it is higher at a multiple k m (k >= 2,
    up to N // 3) than at m by more than 2 / sqrt(N) (a row is more like the row a long season before than the row
    a season before, as hourly demand is like last week's more than yesterday's), the shortest such lag within
    2 / sqrt(N) of the highest. At most MAX_LONG_SEASON, and two long seasons of rows."""
    if configured is not None:
        check_long_season(configured, m)
        return int(configured), "configured"
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    n = len(y)
    if m <= 1 or not np.all(np.isfinite(y)) or np.ptp(y) == 0:
        return 1, "no season"
    a = _datetime_values(_index_of(index))
    step = float(np.median(np.diff(a).astype(np.int64))) if a is not None else 0.0
    day = 86400 / step if step > 0 else 0.0
    if 1 < day and day == round(day) and m == day:
        m2, how = int(7 * day), "the week (from the DatetimeIndex)"
    else:
        max_lag = min(n // 3, MAX_LONG_SEASON)
        if max_lag < 2 * m:
            return 1, "too few rows"
        t = np.arange(n, dtype=np.float64)
        y = y / np.abs(y).max()
        r = autocorrelation(y - np.polyval(np.polyfit(t, y, 1), t), max_lag)
        r = r * n / (n - np.arange(max_lag + 1))            # without the biased estimator's pull towards lag 0
        lags, margin = np.arange(2 * m, max_lag + 1, m), 2 / np.sqrt(n)          # about two standard errors
        best = r[lags].max()
        m2, how = int(lags[r[lags] >= best - margin][0]), "inferred from the autocorrelation"    # shortest near-best
        if not best > r[m] + margin:
            return 1, "the autocorrelation is not clearly higher at a multiple of the season"
    if m2 > MAX_LONG_SEASON or n < 2 * m2:
        return 1, f"{m2} is too long for the rows or for the smoother"
    return m2, how


def check_long_season(m2, m):
    """A configured long season m2 must be 1 (none) or longer than the season m it rides on (m > 1): a cycle of at
    most m rows adds no phase the season lacks (its criterion would count it as free). Checked when the 'ets'
    baseline, the only reader of long_season, is fitted and the season is known (a file saved with such a value
    still loads and forecasts as before)."""
    if m is not None and m > 1 and 1 < m2 <= m:
        raise ConfigError(f"config['long_season'] = {m2} is not longer than the season ({m}): a long season is a cycle "
                          f"over several seasons (168 for hourly data with season 24: the week). Use a multiple of "
                          f"the season above it, or 1 for none.")


def seasonal_coverage(n, L, horizon, season, steps=1):
    """How many of the n * steps targets have a value a whole season (or more) before them."""
    rows = target_rows(n, L, horizon, steps)
    lead = np.maximum(horizon + np.arange(steps), 1)[None, :]
    return int(np.sum(rows - season * np.ceil(lead / season) >= 0))
