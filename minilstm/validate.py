"""Boundary checks shared by every public entry: arrays, shapes, dtypes, values, options.

Each ``check_*`` returns its (unchanged) argument or the sizes it read, and raises a
``minilstm.errors`` class whose message names what was expected, what was received
and how to fix it. They cost O(1) except ``finite=True`` (one pass over the array).

The recurrent cells' contracts are one function each, serving both cells: a cell's layout
(``CELLS['lstm']``, ``CELLS['gru']``: gate count, parameter names, cache keys) is data, and
``check_cell_params``, ``check_sequence_inputs``, ``check_step_inputs``, ``check_sequence_backward_args``,
``check_step_backward_args`` and ``check_pointwise`` take ``cell='lstm'`` or ``'gru'``.
"""
import math
import numbers

import numpy as np

from .backend import get_array_module
from .errors import ConfigError, DataError, InputTypeError, ShapeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))   # what layers, kernels and checks compute in
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
        torch = type(a).__module__.split(".")[0] == "torch"
        hint = f"{name}.detach().cpu().numpy()" if torch else f"np.asarray({name})"
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


# ---- the recurrent cells' contracts: one function per contract, serving both cells ----------------

class CellLayout:
    """What the checks need to know about a cell: its gate blocks, parameter names and cache layouts.

    gates: gate blocks per weight matrix (G; the gate axis is G*H long), in the order ``order``;
    params: one layer's parameter names; cache: the sequence forward's cache keys; step_cache: the names
    of the step forward's cache tuple. Shapes by name (``SHAPES``), for T steps, batch B, input D, hidden H."""

    SHAPES = {"x_tm": "TBD", "hs": "SBH", "cs": "SBH", "gates": "TBG", "tanh_c": "TBH", "hn": "TBH",
              "x_t": "BD", "h_prev": "BH", "c_prev": "BH"}

    def __init__(self, name, gates, order, params, cache, step_cache):
        self.name, self.gates, self.order, self.params = name, gates, order, params
        self.cache, self.step_cache = cache, step_cache
        self.forward, self.step_forward = f"{name}_forward", f"{name}_step_forward"

    def shape(self, key, T=None, B=None, D=None, H=None):
        """The shape of the array ``key`` (``SHAPES``): S = T + 1 saved states, G = gates * H."""
        sizes = {"T": T, "S": None if T is None else T + 1, "B": B, "D": D, "H": H, "G": self.gates * H}
        return tuple(sizes[c] for c in self.SHAPES[key])

    def cache_shapes(self, T, B, D, H):
        return {k: self.shape(k, T, B, D, H) for k in self.cache if k != "params"}


CELLS = {
    "lstm": CellLayout("lstm", 4, "f, i, c~, o", ("W_x", "W_h", "b"),
                       ("x_tm", "hs", "cs", "gates", "tanh_c", "params"),
                       ("x_t", "h_prev", "c_prev", "gates", "tanh_c", "params")),
    "gru": CellLayout("gru", 3, "r, z, n", ("W_x", "W_h", "b_x", "b_h"),
                      ("x_tm", "hs", "gates", "hn", "params"), ("x_t", "h_prev", "gates", "hn", "params")),
}
_ARTICLE = {"lstm": "an LSTM", "gru": "a GRU"}
_OTHER_LAYOUT = {"lstm": ("b_x", " (b_x and b_h are the GRU's layout; the LSTM keeps one b)"),
                 "gru": ("b", " (a single 'b' is the LSTM's layout; the GRU keeps b_x and b_h apart because r_t "
                              "multiplies h_{t-1} W_hn + b_hn)")}


def check_cell_params(params, cell="lstm", D=None, name="params"):
    """One layer's params dict of ``cell`` ('lstm': W_x (D, 4H), W_h (H, 4H), b (4H,); 'gru': W_x (D, 3H),
    W_h (H, 3H), b_x (3H,), b_h (3H,)), one dtype, one device.

    D: the input size the caller expects (None: read from W_x). Returns (D, H).
    """
    lay = CELLS[cell]
    G, keys = lay.gates, lay.params
    if not isinstance(params, dict):
        raise InputTypeError(f"{name} must be a dict with {', '.join(keys)}, got {type(params).__name__}.")
    missing = [k for k in keys if k not in params]
    if missing:
        other, hint = _OTHER_LAYOUT[cell]
        need = ", ".join([f"W_x (D, {G}H)", f"W_h (H, {G}H)"] + [f"{k} ({G}H,)" for k in keys[2:]])
        hint = hint if other in params else ""
        raise ShapeError(f"{name} is missing {missing}; {_ARTICLE[cell]} needs {need}{hint}.")
    W_h = check_array(params["W_h"], f"{name}['W_h']", ndim=2)
    H, GH = W_h.shape
    if H < 1 or GH != G * H:
        raise ShapeError(f"{name}['W_h'] must have shape (H, {G}H) with H >= 1 (gates {lay.order}), got "
                         f"{tuple(W_h.shape)} (expected ({H}, {G * H}) for H = {H}).")
    W_x = check_array(params["W_x"], f"{name}['W_x']", shape=(D, G * H), dims=("input size", f"{G}H"))
    others = {f"{name}['{k}']": check_array(params[k], f"{name}['{k}']", shape=(G * H,), dims=(f"{G}H",))
              for k in keys[2:]}
    others[f"{name}['W_h']"] = W_h
    check_same_dtype(others, f"{name}['W_x']", W_x.dtype)
    check_same_module(others, f"{name}['W_x']", W_x)
    return W_x.shape[0], H


def _check_states(ref, ref_name, states, B, H, params, keys, allow_none=True):
    """Each state (B, H) (None allowed with ``allow_none``), and every array of one dtype and device with ``ref``."""
    for name, s in states.items():
        check_array(s, name, shape=(B, H), dims=("batch", "hidden"), allow_none=allow_none)
    arrays = {**states, **{f"params['{k}']": params[k] for k in keys}}
    check_same_dtype(arrays, ref_name, ref.dtype)
    check_same_module(arrays, ref_name, ref)


def check_sequence_inputs(x, states, params, cell="lstm"):
    """A sequence forward's inputs: x (B, T, D) float, states (name -> (B, H) or None), one layer's params of
    ``cell``; every array of x's dtype and device. Returns (B, T, D, H).

    The common case (NumPy arrays of the right shapes and one float dtype) is answered in a few comparisons
    per array; anything else takes the full checks, which say what is wrong."""
    lay = CELLS[cell]
    try:
        B, T, D = x.shape
        H = params["W_h"].shape[0]
        G = lay.gates * H
        if type(params) is dict and B >= 1 and T >= 1 and H >= 1 and plain_arrays(
                [(x, (B, T, D)), (params["W_x"], (D, G)), (params["W_h"], (H, G))]
                + [(params[k], (G,)) for k in lay.params[2:]]
                + [(s, (B, H)) for s in states.values() if s is not None]):
            return B, T, D, H
    except (AttributeError, TypeError, KeyError, ValueError, IndexError):
        pass
    check_array(x, "x", shape=(None, None, None), dims=("batch", "time", "features"))
    B, T, D = x.shape
    if B < 1 or T < 1:
        raise ShapeError(f"x needs at least one sample and one time step, got shape {tuple(x.shape)}.")
    D, H = check_cell_params(params, cell, D=D)
    _check_states(x, "x", states, B, H, params, lay.params)
    return B, T, D, H


def check_step_inputs(x_t, states, params, cell="lstm"):
    """One step's inputs: x_t (B, D), states (name -> (B, H)), one layer's params of ``cell``. Returns (B, D, H)."""
    check_array(x_t, "x_t", shape=(None, None), dims=("batch", "features"))
    B, D = x_t.shape
    D, H = check_cell_params(params, cell, D=D)
    _check_states(x_t, "x_t", states, B, H, params, CELLS[cell].params, allow_none=False)
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


def check_sequence_backward_args(dh_seq, final_grads, cache, cell="lstm"):
    """A sequence backward's arguments against the cache of the forward they differentiate.

    dh_seq: (B, T, H) or None; final_grads: name -> (B, H) gradient on a final state, or None; cache: the
    dict ``cell``'s sequence forward returned. Returns (T, B, D, H)."""
    lay = CELLS[cell]
    try:                                                      # the common case first, in a few comparisons
        T, B, D = cache["x_tm"].shape
        params = cache["params"]
        H = params["W_h"].shape[0]
        G = lay.gates * H
        if type(cache) is dict and type(params) is dict and H >= 1 and plain_arrays(
                [(cache[k], shape) for k, shape in lay.cache_shapes(T, B, D, H).items()]
                + [(params["W_x"], (D, G)), (params["W_h"], (H, G))] + [(params[k], (G,)) for k in lay.params[2:]]
                + [(g, (B, H)) for g in final_grads.values() if g is not None]
                + ([(dh_seq, (B, T, H))] if dh_seq is not None else [])):
            return T, B, D, H
    except (AttributeError, TypeError, KeyError, ValueError, IndexError):
        pass
    hint = f"Run {lay.forward} again and pass its third result."
    if not isinstance(cache, dict) or not isinstance(cache.get("params"), dict):
        raise InputTypeError(f"cache must be the dict returned by {lay.forward} (keys {list(lay.cache)}), got "
                             f"{type(cache).__name__}. {hint}")
    x_tm = check_array(cache.get("x_tm"), "cache['x_tm']", ndim=3)
    T, B, D = x_tm.shape
    H = check_cell_params(cache["params"], cell, D=D, name="cache['params']")[1]
    check_cache(cache, lay.cache_shapes(T, B, D, H), hint=hint)
    check_array(dh_seq, "dh_seq", shape=(B, T, H), dims=("batch", "time", "hidden"), allow_none=True)
    for name, g in final_grads.items():
        check_array(g, name, shape=(B, H), dims=("batch", "hidden"), allow_none=True)
    return T, B, D, H


def check_step_backward_args(grads, cache, cell="lstm"):
    """A step backward's arguments: grads (name -> (B, H)) and the tuple cache of ``cell``'s step forward."""
    lay = CELLS[cell]
    n = len(lay.step_cache)
    if not isinstance(cache, tuple) or len(cache) != n:
        raise InputTypeError(f"cache must be the tuple ({', '.join(lay.step_cache)}) returned by {lay.step_forward}, "
                             f"got {type(cache).__name__}"
                             f"{f' of length {len(cache)}' if isinstance(cache, (tuple, list)) else ''}.")
    named = dict(zip(lay.step_cache, cache))
    states = {k: named[k] for k in ("h_prev", "c_prev") if k in named}
    B, D, H = check_step_inputs(named["x_t"], states, named["params"], cell)
    for k in lay.step_cache[len(states) + 1:-1]:              # what the step forward computed: gates, tanh_c or hn
        check_array(named[k], f"cache {k}", shape=(B, lay.gates * H if k == "gates" else H))
    for name, g in grads.items():
        check_array(g, name, shape=(B, H), dims=("batch", "hidden"))


def check_gate_axis(a, name, cell="lstm"):
    """The last axis of ``a`` holds the cell's gate blocks: its length is G*H with H >= 1."""
    lay = CELLS[cell]
    check_array(a, name)
    G = lay.gates
    if a.ndim < 1 or a.shape[-1] < G or a.shape[-1] % G:
        raise ShapeError(f"{name} must have a last axis of length {G}H (the gates {lay.order}), got shape "
                         f"{tuple(a.shape)}.")


def check_pointwise(wide, narrow, cell="lstm"):
    """A step's pointwise part, shapes only (this runs once per step): the ``wide`` arrays (name -> array)
    (B, G*H), the ``narrow`` ones (B, H); the first wide array sets B and H."""
    name, first = next(iter(wide.items()))
    check_gate_axis(first, name, cell)
    G = CELLS[cell].gates
    if first.ndim != 2:
        raise ShapeError(f"{name} must have shape (batch, {G}H), got {tuple(first.shape)}.")
    B, H = first.shape[0], first.shape[1] // G
    for group, want in ((wide, (B, G * H)), (narrow, (B, H))):
        for n, a in group.items():
            if getattr(a, "shape", None) != want:
                raise ShapeError(f"{n} must have shape {want} to match {name} {tuple(first.shape)}, got "
                                 f"{getattr(a, 'shape', type(a).__name__)}.")


# ---- a layer's settings -------------------------------------------------------------------------

def check_dtype(dtype):
    """float32 or float64 (anything NumPy reads as one of them), else ConfigError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}.") from None
    if dt not in FLOAT_DTYPES:
        raise ConfigError(f"dtype must be float32 or float64, got {dt}.")
    return dt


MAX_LAYERS = 1024
MAX_PARAM_BYTES = 16 << 30    # 16 GiB of weights: far beyond any LSTM this engine is meant for


def check_layer_size(D, H, L, itemsize, gates=4, directions=1, what="LSTM"):
    """Refuse layer sizes that would hang or exhaust memory while the weights are built (``gates`` blocks of H
    per weight matrix, ``directions`` 1 or 2; the count is an upper bound, two biases per block)."""
    if L > MAX_LAYERS:
        raise ConfigError(f"num_layers must be at most {MAX_LAYERS}, got {L}.")
    n = directions * gates * H * ((D + H + 2) + (L - 1) * (directions * H + H + 2))
    if n * itemsize > MAX_PARAM_BYTES:
        raise ConfigError(f"{what} layers with input_size={D}, hidden_size={H}, num_layers={L}"
                          f"{' (bidirectional)' if directions == 2 else ''} have {n:.3g} parameters "
                          f"({n * itemsize / 2**30:.3g} GiB), above the {MAX_PARAM_BYTES >> 30} GiB limit; use smaller "
                          "sizes.")


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
