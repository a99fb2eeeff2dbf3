"""Boundary checks shared by every public entry: arrays, shapes, dtypes, values, options.

Each ``check_*`` returns its (unchanged) argument or the sizes it read, and raises a
``minilstm.errors`` class whose message names what was expected, what was received
and how to fix it. They cost O(1) except ``finite=True`` (one pass over the array).

Cell-agnostic on purpose: a recurrent cell with G gate blocks stores
``W_x (D, G*H)``, ``W_h (H, G*H)``, ``b (G*H,)`` (G = 4 for the LSTM, 3 for a GRU), so
``check_cell_params(params, gates=G)`` and ``check_sequence_inputs(..., gates=G)``
serve any such cell.
"""
import math
import numbers

import numpy as np

from .backend import get_array_module
from .errors import ConfigError, DataError, InputTypeError, ShapeError

FLOAT = "f"          # dtype kinds: floating point only
REAL = "fiu"         # any real number type (floats, signed and unsigned integers)
_KIND_WORDS = {"f": "a float", "fiu": "a real (integer or float)", "fiub": "a real or boolean"}


def shape_str(shape, dims=None):
    """'(2, any, 4)', or with dims '(2, time, 4)': None in ``shape`` means any size, shown by the axis name."""
    tup = lambda parts: "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"  # noqa: E731
    if dims and all(s is not None for s in shape):
        return f"{tup([str(s) for s in shape])} = {tup(dims)}"
    return tup([d if s is None else str(s) for s, d in zip(shape, dims or ("any",) * len(shape))])


def check_array(a, name, ndim=None, shape=None, dims=None, kind=FLOAT, finite=False, allow_none=False):
    """Check an array's type, number of dimensions, shape, dtype kind and (optionally) values.

    a: NumPy or CuPy array.  shape: tuple of ints or None (any size), implies ndim.
    dims: optional axis names for the message, e.g. ("batch", "time", "features").
    kind: allowed ``dtype.kind`` letters ("f" floats, "fiu" real numbers).
    finite: refuse NaN and Inf (DataError).  allow_none: None passes through.
    Returns ``a``.
    """
    if a is None and allow_none:
        return a
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        want = shape_str(shape, dims) if shape is not None else f"{ndim}-D" if ndim else "any"
        raise InputTypeError(f"{name} must be an array of shape {want}, got {type(a).__name__}; "
                             f"convert it with np.asarray(...).")
    if not isinstance(a.dtype, np.dtype):
        hint = f"{name}.detach().cpu().numpy()" if type(a).__module__.split(".")[0] == "torch" else f"np.asarray({name})"
        raise InputTypeError(f"{name} is a {type(a).__module__}.{type(a).__name__} with dtype {a.dtype}, not a NumPy "
                             f"(or CuPy) array; convert it first: {hint}.")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and a.ndim != ndim:
        want = shape_str(shape, dims) if shape is not None else ""
        raise ShapeError(f"{name} must have {ndim} dimension{'' if ndim == 1 else 's'} {want}, got {a.ndim} "
                         f"(shape {tuple(a.shape)}).")
    if shape is not None and any(s is not None and s != n for s, n in zip(shape, a.shape)):
        raise ShapeError(f"{name} must have shape {shape_str(shape, dims)}, got {tuple(a.shape)}.")
    check_dtype_kind(a, name, kind)
    if finite:
        check_finite(a, name)
    return a


def plain_arrays(pairs):
    """True when every (array, shape) pair is a NumPy float array of exactly that shape, all of one dtype.

    The common case of the sequence checks, answered in a few comparisons per array; anything else (CuPy,
    lists, other shapes or dtypes) returns False and takes the full checks, which say what is wrong."""
    dt = None
    for a, shape in pairs:
        if type(a) is not np.ndarray or a.shape != shape:
            return False
        if dt is None:
            dt = a.dtype
            if dt.kind != "f":
                return False
        elif a.dtype != dt:
            return False
    return True


def check_dtype_kind(a, name, kind=FLOAT):
    """Refuse arrays whose dtype kind is not in ``kind`` (complex, object, strings, dates, ...)."""
    dt = np.dtype(a.dtype)
    if dt.kind not in kind:
        fix = "take the real part or cast with .astype(np.float64)" if dt.kind == "c" else \
            "cast with .astype(np.float64)"
        raise InputTypeError(f"{name} must be {_KIND_WORDS.get(kind, kind)} array, got dtype {dt}; {fix}.")
    return a


def check_finite(a, name):
    """Refuse NaN and Inf with the count and the first position (DataError)."""
    xp = get_array_module(a)
    if a.dtype.kind in "fc":
        with np.errstate(all="ignore"):              # an overflowing sum is a verdict here, not an error
            if bool(xp.isfinite(a.sum())):
                return a     # one pass: a NaN or Inf anywhere makes the sum NaN or Inf (a sum that overflows
    bad = ~xp.isfinite(a)    # from finite values only takes the exact count below)
    n = int(bad.sum())
    if n:
        first = tuple(int(i) for i in np.argwhere(np.asarray(bad.get() if hasattr(bad, "get") else bad))[0])
        raise DataError(f"{name} contains {n} NaN or Inf value(s) (first at index {first}); replace or drop them "
                        "before calling (e.g. interpolate, or np.nan_to_num).")
    return a


def check_same_dtype(arrays, ref_name, ref_dtype):
    """Every array in the dict ``arrays`` (name -> array or None) has dtype ``ref_dtype``."""
    for name, a in arrays.items():
        if a is not None and np.dtype(a.dtype) != np.dtype(ref_dtype):
            raise InputTypeError(f"{name} has dtype {np.dtype(a.dtype)} but {ref_name} has {np.dtype(ref_dtype)}; "
                                 f"cast them to one dtype (e.g. .astype(np.{np.dtype(ref_dtype)})).")


def check_same_module(arrays, ref_name, ref):
    """Every array lives on the same device as ``ref`` (all NumPy or all CuPy)."""
    xp = get_array_module(ref)
    for name, a in arrays.items():
        if a is not None and get_array_module(a) is not xp:
            raise InputTypeError(f"{name} is a {type(a).__module__}.{type(a).__name__} but {ref_name} is a "
                                 f"{type(ref).__module__}.{type(ref).__name__}; put every array on one device "
                                 "(cupy.asarray / cupy.asnumpy).")


def check_cell_params(params, gates=4, D=None, name="params"):
    """A recurrent cell's params dict: W_x (D, G*H), W_h (H, G*H), b (G*H,) with G = ``gates``.

    D: the input size the caller expects (None: read from W_x). Returns (D, H).
    """
    if not isinstance(params, dict):
        raise InputTypeError(f"{name} must be a dict with W_x, W_h, b, got {type(params).__name__}.")
    missing = [k for k in ("W_x", "W_h", "b") if k not in params]
    if missing:
        raise ShapeError(f"{name} is missing {missing}; it needs W_x (D, {gates}H), W_h (H, {gates}H), b ({gates}H,).")
    W_h = check_array(params["W_h"], f"{name}['W_h']", ndim=2)
    H, GH = W_h.shape
    if H < 1 or GH != gates * H:
        raise ShapeError(f"{name}['W_h'] must have shape (H, {gates}H) with H >= 1, got {tuple(W_h.shape)} "
                         f"(expected ({H}, {gates * H}) for H = {H}).")
    W_x = check_array(params["W_x"], f"{name}['W_x']", shape=(D, gates * H), dims=("input size", f"{gates}H"))
    check_array(params["b"], f"{name}['b']", shape=(gates * H,), dims=(f"{gates}H",))
    check_same_dtype({f"{name}['W_h']": W_h, f"{name}['b']": params["b"]}, f"{name}['W_x']", W_x.dtype)
    check_same_module({f"{name}['W_h']": W_h, f"{name}['b']": params["b"]}, f"{name}['W_x']", W_x)
    return W_x.shape[0], H


def check_sequence_inputs(x, states, params, gates=4):
    """A sequence function's inputs: x (B, T, D) float, states (name -> (B, H) or None), params of one cell.

    Every array shares x's dtype and device. Returns (B, T, D, H).
    """
    check_array(x, "x", shape=(None, None, None), dims=("batch", "time", "features"))
    B, T, D = x.shape
    if B < 1 or T < 1:
        raise ShapeError(f"x needs at least one sample and one time step, got shape {tuple(x.shape)}.")
    D, H = check_cell_params(params, gates, D=D)
    for name, s in states.items():
        check_array(s, name, shape=(B, H), dims=("batch", "hidden"), allow_none=True)
    arrays = {**states, **{f"params['{k}']": params[k] for k in ("W_x", "W_h", "b")}}
    check_same_dtype(arrays, "x", x.dtype)
    check_same_module(arrays, "x", x)
    return B, T, D, H


def check_step_inputs(x_t, states, params, gates=4):
    """One step's inputs: x_t (B, D), states (name -> (B, H)), params. Returns (B, D, H)."""
    check_array(x_t, "x_t", shape=(None, None), dims=("batch", "features"))
    B, D = x_t.shape
    D, H = check_cell_params(params, gates, D=D)
    for name, s in states.items():
        check_array(s, name, shape=(B, H), dims=("batch", "hidden"))
    arrays = {**states, **{f"params['{k}']": params[k] for k in ("W_x", "W_h", "b")}}
    check_same_dtype(arrays, "x_t", x_t.dtype)
    check_same_module(arrays, "x_t", x_t)
    return B, D, H


def check_cache(cache, expected, name="cache", hint=""):
    """A dict cache holds every key of ``expected`` (key -> shape tuple) with that shape and one float dtype."""
    if not isinstance(cache, dict):
        raise InputTypeError(f"{name} must be the dict returned by the forward function, got "
                             f"{type(cache).__name__}. {hint}".rstrip())
    missing = [k for k in expected if k not in cache]
    if missing:
        raise ShapeError(f"{name} is missing {missing}: pass the cache returned by the forward function. "
                         f"{hint}".rstrip())
    first = next(iter(expected))
    for k, shape in expected.items():
        check_array(cache[k], f"{name}['{k}']", shape=shape)
    check_same_dtype({f"{name}['{k}']": cache[k] for k in expected}, f"{name}['{first}']", cache[first].dtype)
    check_same_module({f"{name}['{k}']": cache[k] for k in expected}, f"{name}['{first}']", cache[first])


def check_sequence_backward_args(dh_seq, final_grads, cache, forward, cache_keys, check_params, cache_shapes):
    """A sequence backward's arguments against the cache of the forward they differentiate (any cell).

    final_grads: name -> (B, H) gradient on a final state, or None; forward: the forward's name (for the
    messages); cache_keys: its cache's keys; check_params(params, D=, name=) -> (D, H) checks the cell's
    params; cache_shapes(T, B, D, H) -> {cache key: shape}. Returns (T, B, D, H).
    """
    hint = f"Run {forward} again and pass its third result."
    if not isinstance(cache, dict) or not isinstance(cache.get("params"), dict):
        raise InputTypeError(f"cache must be the dict returned by {forward} (keys {list(cache_keys)}), got "
                             f"{type(cache).__name__}. {hint}")
    x_tm = check_array(cache.get("x_tm"), "cache['x_tm']", ndim=3)
    T, B, D = x_tm.shape
    H = check_params(cache["params"], D=D, name="cache['params']")[1]
    check_cache(cache, cache_shapes(T, B, D, H), hint=hint)
    check_array(dh_seq, "dh_seq", shape=(B, T, H), dims=("batch", "time", "hidden"), allow_none=True)
    for name, g in final_grads.items():
        check_array(g, name, shape=(B, H), dims=("batch", "hidden"), allow_none=True)
    return T, B, D, H


# ---- scalar settings ------------------------------------------------------------------------

def check_number(value, name, low=None, high=None, low_open=False, high_open=False, allow_none=False, integer=False):
    """A finite real number (not a bool) in [low, high] (open ends with ``low_open``/``high_open``). Returns a float
    (an int with ``integer=True``) or None (with ``allow_none``)."""
    if value is None and allow_none:
        return None
    ok_type = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok_type):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r} "
                          f"({type(value).__name__}).")
    if not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be finite, got {value!r}.")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        raise ConfigError(f"{name} must be {' and '.join(s for s in (lo, hi) if s)}, got {value!r}.")
    return int(value) if integer else float(value)


def check_option(value, name, valid, also=""):
    """``value`` is one of ``valid`` (strings compared exactly). ``also`` describes other accepted forms. Returns it."""
    if not isinstance(value, str) or value not in valid:
        raise ConfigError(f"{name} must be one of {', '.join(repr(v) for v in valid)}{also}; got {value!r}.")
    return value


def check_keys_match(got, expected, name, expected_name):
    """Two dicts have the same keys; the message lists the missing and the unexpected ones."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise ShapeError(f"{name} must have the same keys as {expected_name}: {'; '.join(parts)}.")


MAX_SEED = 2 ** 63 - 1


def check_seed(seed, name="seed"):
    """None or an integer in [0, 2**63 - 1] (what NumPy's generators take), else ConfigError. Returns it as int."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{name} must be None or an integer in [0, 2**63 - 1], got {seed!r}.")
    return int(seed)


def check_in_range(a, dtype, name):
    """Finite values of ``a`` (any real dtype) must fit ``dtype`` before a cast (a float64 1e39 is Inf in float32).
    DataError naming the largest value and the fix. Cheap when ``a`` already has ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or (a.dtype.kind == "f" and a.dtype.itemsize <= dtype.itemsize) or a.size == 0:
        return
    xp = get_array_module(a)
    peak = float(xp.abs(a).max())
    if peak > float(np.finfo(dtype).max):
        raise DataError(f"{name} holds values up to {peak:.3g}, beyond the {dtype.name} range "
                        f"({float(np.finfo(dtype).max):.3g}) of this layer; scale the data (e.g. normalize it) or use "
                        "dtype=np.float64.")
