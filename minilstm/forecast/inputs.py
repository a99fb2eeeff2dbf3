"""What one X or y argument is: a float64 table plus the pandas labels it came with.

``read_table`` is the one place where user data enter the forecasting API. It refuses,
with an error that says what to do: None, strings, dicts, ragged lists, complex numbers,
dates and durations (read as nanoseconds they would be silent garbage), non-numeric
columns, more than two dimensions, empty input and NaN/Inf. pandas labels (column names,
the index) are kept so that the model can match columns by name, check that X and y
are paired by the same labels, and index its predictions by time.
"""
import datetime
from typing import NamedTuple, Optional

import numpy as np

from ..errors import ConfigError, DataError, InputTypeError, ShapeError

DATE_FIX = ("drop or encode the date column; use it as the index (df.set_index('date')) so that predictions "
            "are indexed by time.")


class Table(NamedTuple):
    values: np.ndarray          # (N, C) float64, finite
    was_1d: bool                # the input was (N,) (or a Series)
    columns: Optional[list]     # DataFrame column names (or [Series name]); None for arrays
    index: object               # the pandas Index; None for arrays
    is_frame: bool              # a DataFrame (columns are matched by name)


def is_pandas(a):
    return hasattr(a, "to_numpy") and hasattr(a, "ndim") and hasattr(a, "index")


def column_key(c):
    """A column name as it is stored in the model file (JSON): str and int as they are, others as str."""
    if isinstance(c, (str, int, np.integer)) and not isinstance(c, (bool, np.bool_)):
        return c if isinstance(c, str) else int(c)
    return str(c)


def _pandas_values(a, name):
    import pandas as pd
    frame = isinstance(a, pd.DataFrame)
    dtypes = list(a.dtypes.items()) if frame else [(a.name, a.dtype)]
    dates = [str(c) for c, t in dtypes if getattr(t, "kind", "O") in "mM" or isinstance(t, pd.DatetimeTZDtype)
             or isinstance(t, pd.PeriodDtype)]
    if dates:
        raise DataError(f"{name} has date/time column(s) {dates}; the model needs numbers: {DATE_FIX}")
    bad = [str(c) for c, t in dtypes if getattr(t, "kind", "O") not in "biuf"]
    if bad:
        raise DataError(f"{name} has non-numeric column(s) {bad}; encode them as numbers (e.g. "
                        "pd.get_dummies or .astype(float)) or drop them.")
    if frame and a.columns.has_duplicates:
        dup = sorted({str(c) for c in a.columns[a.columns.duplicated()]})
        raise DataError(f"{name} has duplicate column names {dup}; rename them so each column is named once.")
    values = a.to_numpy(dtype=np.float64, na_value=np.nan)
    columns = [column_key(c) for c in a.columns] if frame else ([column_key(a.name)] if a.name is not None else None)
    return values, columns, a.index, frame


def _looks_like_dates(arr):
    flat = arr.ravel()[:50]
    return any(isinstance(v, (datetime.date, datetime.timedelta, np.datetime64, np.timedelta64)) for v in flat)


def check_time_order(index, name):
    """A DatetimeIndex must be strictly increasing: windows of consecutive rows are then spans of time, never
    jumps back or repeated timestamps (DataError with the first offending row and the fix)."""
    if not is_datetime_index(index) or index.is_monotonic_increasing and index.is_unique:
        return
    if not index.is_unique:
        r = int(np.argmax(index.duplicated()))
        raise DataError(f"{name}'s time index repeats {index[r]} (row {r}); windows would mix rows of the same time. "
                        "Aggregate or drop duplicates first (e.g. df.groupby(level=0).mean()).")
    r = int(np.argmax(np.diff(index.asi8) < 0)) + 1
    raise DataError(f"{name}'s time index is not sorted ({index[r]} at row {r} comes after {index[r - 1]}); windows "
                    "would span jumps in time. Sort it first: df.sort_index().")


def read_table(a, name):
    """Any array-like -> Table with values (N, C) float64. Shape in: (N,) or (N, C)."""
    columns = index = None
    frame = False
    if a is None:
        raise InputTypeError(f"{name} is None; pass an array of shape (samples,) or (samples, columns).")
    if isinstance(a, (str, bytes, dict, set)):
        raise InputTypeError(f"{name} must be an array-like of numbers, got {type(a).__name__}.")
    if is_pandas(a):
        a, columns, index, frame = _pandas_values(a, name)
        check_time_order(index, name)
    if isinstance(a, np.ma.MaskedArray) and np.ma.getmaskarray(a).any():    # np.asarray would read under the mask
        raise DataError(f"{name} is a masked array with masked entries; fill them ({name}.filled(value)) or drop those "
                        "rows first.")
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists etc.
        raise DataError(f"{name} could not be read as an array ({type(e).__name__}: {e}); pass equal-length "
                        "rows of numbers.") from None
    if arr.ndim == 0 and arr.dtype == object:
        raise InputTypeError(f"{name} must be an array-like of numbers (array, list, DataFrame, Series), got "
                             f"{type(a).__name__}.")
    if arr.dtype.kind in "mM":
        raise DataError(f"{name} holds dates or durations (dtype {arr.dtype}), which would be read as nanoseconds; "
                        f"{DATE_FIX}")
    if arr.dtype.kind == "c":
        raise DataError(f"{name} is complex; pass real numbers (e.g. np.abs(z) or z.real).")
    if arr.dtype.kind in "US":
        raise DataError(f"{name} holds text (dtype {arr.dtype}), non-numeric values; convert it explicitly (e.g. "
                        "np.asarray(values, dtype=float)) or drop those columns.")
    if arr.dtype.kind not in "biuf":
        if arr.dtype == object and _looks_like_dates(arr):
            raise DataError(f"{name} holds dates or times; {DATE_FIX}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{name} holds non-numeric values (dtype {arr.dtype}); convert or drop those columns."
                            ) from None
        if np.iscomplexobj(arr):
            raise DataError(f"{name} is complex; pass real numbers.")
    arr = np.array(arr, dtype=np.float64)          # a copy: the caller's array is never touched
    if arr.ndim not in (1, 2):
        raise ShapeError(f"{name} must be 1-D (samples,) or 2-D (samples, columns), got shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty (shape {arr.shape}); pass at least one row.")
    was_1d = arr.ndim == 1
    arr = arr.reshape(len(arr), -1)
    if arr.shape[1] == 0:
        raise ShapeError(f"{name} has no columns (shape {arr.shape}).")
    if not np.isfinite(arr).all():
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise DataError(f"{name} contains NaN or Inf (first at row {r}, column {c}); fill, interpolate or drop "
                        "those rows first.")
    return Table(arr, was_1d, columns, index, frame)


def in_dtype_range(A, dtype, name):
    """Normalized values A (N, C) must be finite in the network's dtype (float32 ends near 3.4e38)."""
    bad = ~(np.abs(A) <= np.finfo(dtype).max)            # NaN is caught too
    if bad.any():
        r, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{name} row {r}, column {col} is {A[r, col]!r} after the model's normalizer, beyond the "
                        f"range of {np.dtype(dtype).name}: it lies far outside the data the normalizer was fitted on. "
                        "Remove or clip the outlier, fit on data that covers its range, or set config['dtype'] = "
                        "'float64'.")
    return A


def check_same_index(X, y):
    """X and y both labelled: their indexes must agree, or rows would be paired by position with other labels."""
    if X.index is None or y.index is None or X.index.equals(y.index):
        return
    if len(X.index) == len(y.index):
        pos = int(np.argmax(np.asarray(X.index != y.index)))
        where = f"first difference at position {pos}: X has {X.index[pos]!r}, y has {y.index[pos]!r}"
    else:
        where = f"X has {len(X.index)} labels, y has {len(y.index)}"
    raise DataError(f"X and y carry different indexes ({where}); rows are paired by label, never by position "
                    "with different labels. Align them first (y = y.reindex(X.index), or take X and y as columns "
                    "of one DataFrame).")


def align_columns(X, fitted_columns, name="X"):
    """Reorder a DataFrame's columns to the fitted order; missing or extra names are an error.

    A named Series counts as a one-column frame; arrays and unnamed Series are taken by position.
    """
    if fitted_columns is None or X.columns is None:
        return X
    have = list(X.columns)
    missing = [c for c in fitted_columns if c not in have]
    extra = [c for c in have if c not in fitted_columns]
    if missing or extra:
        raise DataError(f"{name}'s columns do not match those the model was fitted on {fitted_columns}: " +
                        "; ".join(([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra
                                                                                 else [])) +
                        f". Pass a DataFrame with exactly these columns (in any order): {name}[{fitted_columns}].")
    order = [have.index(c) for c in fitted_columns]
    return X._replace(values=X.values[:, order], columns=list(fitted_columns))


def target_names(y):
    """fit's y when it names target columns of X (``'Demand'`` or ``['a', 'b']``): the list of names, else None."""
    if isinstance(y, str):
        return [y]
    if isinstance(y, (list, tuple)) and y and all(isinstance(v, str) for v in y):
        return list(y)
    return None


def targets_from_y(target_columns, y, n_columns):
    """What fit's y says about the targets, with config['target_columns'] -> (target_columns, y, set_by_y).

    y naming columns of X (``'Demand'``, ``['a', 'b']``) makes them the target columns (y None); y omitted on a
    one-column X (n_columns == 1) forecasts that column ([0]); otherwise both come back as they were, and a caller
    that gets (None, None, False) has no targets to train on. A name that contradicts target_columns is an error.
    """
    names = target_names(y)
    if names is not None:
        if target_columns is not None and target_columns != names:
            raise ConfigError(f"y = {y!r} names the target column(s) {names}, but config['target_columns'] = "
                              f"{target_columns}; give one or the other.")
        return names, None, True
    if y is None and target_columns is None and n_columns == 1:
        return [0], None, True
    return target_columns, y, False


def target_positions(target_columns, columns, n_columns, name="X"):
    """config['target_columns'] (indices, or names of a DataFrame's columns) -> positions in X's columns.

    columns: X's column names (None for arrays); n_columns: how many columns X has.
    """
    if target_columns is None:
        return None
    if all(isinstance(c, str) for c in target_columns):
        if columns is None:
            raise ConfigError(f"config['target_columns'] = {target_columns} names columns, but {name} is an array "
                              "without column names; pass a DataFrame with these columns, or give the target "
                              "columns as indices (e.g. [0]).")
        missing = [c for c in target_columns if c not in columns]
        if missing:
            raise ConfigError(f"config['target_columns'] names {missing}, which {name} does not have; its columns are "
                              f"{list(columns)}.")
        return [list(columns).index(c) for c in target_columns]
    if max(target_columns) >= n_columns:
        raise ConfigError(f"config['target_columns'] = {target_columns} but {name} has only {n_columns} column(s).")
    return list(target_columns)


def is_datetime_index(index):
    return index is not None and type(index).__name__ == "DatetimeIndex"


def freq_string(index):
    """The frequency of a DatetimeIndex as a string ('h', 'D', ...) or None."""
    import pandas as pd
    if not is_datetime_index(index):
        return None
    f = index.freqstr if index.freq is not None else (pd.infer_freq(index) if len(index) >= 3 else None)
    return f


def target_times(index, positions, freq=None):
    """Times of row positions of a DatetimeIndex; positions past its end are extended by its frequency.

    The frequency is the index's own, else the one inferred from it, else ``freq`` (remembered from fit),
    else the step between its last two timestamps.
    """
    import pandas as pd
    positions = np.asarray(positions)
    n = len(index)
    f = freq_string(index) or freq
    if f is not None:
        step = pd.tseries.frequencies.to_offset(f)
    elif n >= 2:
        step = index[-1] - index[-2]
    else:
        step = None
    out = []
    for p in positions.ravel():
        if p < n:
            out.append(index[p])
        elif step is None:
            out.append(pd.NaT)
        else:
            out.append(index[-1] + (int(p) - n + 1) * step)
    times = pd.DatetimeIndex(out, name=index.name)
    if f is not None:
        try:
            times = pd.DatetimeIndex(times, freq=f)
        except ValueError:       # not regular after all (e.g. daylight-saving gaps): no freq attached
            pass
    return times


def labelled(out, index, first_position, target_names, freq=None, step_columns=False):
    """Predictions -> pandas, indexed by the time of each row's (first) target.

    out: (n,) -> Series; (n, T) -> DataFrame with the target names as columns, or, with
    ``step_columns``, (n, k) of a 1-D target -> columns step 1..k; (n, k, T) -> (step, target) columns.
    Row r's target is the row at position ``first_position + r`` of ``index`` (extended past its end).
    """
    import pandas as pd
    times = target_times(index, first_position + np.arange(len(out)), freq)
    if out.ndim == 1:
        return pd.Series(out, index=times, name=target_names[0] if target_names else None)
    if out.ndim == 2 and step_columns:
        return pd.DataFrame(out, index=times, columns=pd.Index(range(1, out.shape[1] + 1), name="step"))
    names = target_names if target_names is not None else list(range(out.shape[-1]))
    if out.ndim == 2:
        return pd.DataFrame(out, index=times, columns=list(names))
    cols = pd.MultiIndex.from_product([range(1, out.shape[1] + 1), names], names=["step", "target"])
    return pd.DataFrame(out.reshape(len(out), -1), index=times, columns=cols)
