"""The normalizer's strategies as functions: the spec (``parse_spec``), the affine center/scale with its
power-of-two prescale, the power transforms (Yeo-Johnson, Box-Cox) and their lambda fit, and the check of
a saved state. ``normalizer.DataNormalizer`` applies them per column.
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError

STRATEGIES = ("zscore", "minmax", "robust", "maxabs", "log", "diff", "pct_change", "power")
METHODS = STRATEGIES  # the older name of the same tuple
ROW_WISE = ("zscore", "minmax", "robust", "maxabs", "log", "power")  # each row transformed on its own
AFFINE = ("zscore", "minmax", "robust", "maxabs")
POWER_METHODS = ("yeo-johnson", "box-cox")
LAMBDA_RANGE = {"yeo-johnson": (0.0, 2.0), "box-cox": (0.0, 3.0)}
SPEC_KEYS = ("strategy", "feature_range", "power_method")
_SPEC_ALIASES = {"method": "strategy"}
_COMMON_NAMES = {  # names other libraries use -> the minilstm strategy (a hint only, never applied silently)
    "standard": "zscore", "standardize": "zscore", "standardise": "zscore", "z-score": "zscore",
    "z_score": "zscore", "standardscaler": "zscore", "min-max": "minmax", "min_max": "minmax",
    "minmaxscaler": "minmax", "robustscaler": "robust", "max-abs": "maxabs", "max_abs": "maxabs",
    "maxabsscaler": "maxabs", "log1p": "log", "difference": "diff", "differencing": "diff", "returns": "pct_change",
    "pct": "pct_change", "pct-change": "pct_change", "yeo-johnson": "power", "yeo_johnson": "power",
    "box-cox": "power", "boxcox": "power", "box_cox": "power", "powertransformer": "power"}
_BAND = 2.0 ** 400          # columns whose largest magnitude is outside [1/_BAND, _BAND] get a prescale
_STATE_KEYS = {"zscore": ("center", "scale"), "minmax": ("center", "scale"), "robust": ("center", "scale"),
               "maxabs": ("center", "scale"), "log": ("shift",), "diff": ("ref",), "pct_change": ("ref",),
               "power": ("lambdas", "center", "scale")}
_MAX_COLUMNS = 10 ** 7


# ---- the specification --------------------------------------------------------------------------
def _hint(value, choices):
    import difflib
    if not isinstance(value, str):
        return ""
    key = value.strip().lower()
    if key in _COMMON_NAMES:
        g = _COMMON_NAMES[key]
        extra = ", 'power_method': 'box-cox'" if g == "power" and "cox" in key else ""
        return f" (did you mean {{'strategy': {g!r}{extra}}}?)"
    close = difflib.get_close_matches(key, choices, 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _same(a, b):
    try:
        return bool(a == b) if not isinstance(a, (list, tuple, np.ndarray)) else \
            tuple(np.asarray(a).tolist()) == tuple(np.asarray(b).tolist())
    except Exception:
        return False


def _check_feature_range(fr):
    """(low, high) -> a tuple of two floats; refused when reversed, degenerate, non-finite or not two numbers."""
    if isinstance(fr, (str, bytes, Mapping)) or not hasattr(fr, "__len__") or len(fr) != 2:
        raise ConfigError(f"feature_range must be a pair (low, high) of finite numbers with low < high, e.g. "
                          f"(0, 1) or (-1, 1); got {fr!r}.")
    lo, hi = fr[0], fr[1]
    for v in (lo, hi):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise ConfigError(f"feature_range must hold two real numbers, got {fr!r} (a {type(v).__name__} in it).")
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"feature_range must be finite, got ({lo}, {hi}); an infinite bound maps every value to "
                          "inf. Use e.g. (0, 1).")
    if not lo < hi:
        raise ConfigError(f"feature_range must be (low, high) with low < high, got ({lo}, {hi})"
                          + ("; it is reversed: swap the two bounds." if lo > hi else "; the bounds are equal."))
    width = hi - lo
    if not math.isfinite(width) or width < 1e-6 * max(abs(lo), abs(hi)) or width < np.finfo(np.float64).tiny:
        raise ConfigError(f"feature_range ({lo}, {hi}) has a width of {width}, which float64 cannot use to keep "
                          "values apart (or to compute at all); use a range such as (0, 1) or (-1, 1).")
    return lo, hi


def parse_spec(spec=None, **kwargs):
    """Check a DataNormalizer specification and return it as ``{'strategy', 'feature_range', 'power_method'}``.

    spec: None (the defaults: zscore), a strategy name, or a dict with the keys 'strategy' (alias 'method'),
    'feature_range' (minmax, default (0, 1)) and 'power_method' (power: 'yeo-johnson' or 'box-cox').
    Keyword arguments are the same keys. A key given twice with different values (e.g. 'strategy' and
    'method') is an error. Raises ``ConfigError`` saying what is wrong and how to write it.
    """
    if spec is None:
        d = {}
    elif isinstance(spec, str):
        d = {"strategy": spec}
    elif isinstance(spec, Mapping):
        d = dict(spec)
    else:
        raise ConfigError(f"a DataNormalizer setting must be a strategy name such as 'zscore' or a dict such as "
                          f"{{'strategy': 'minmax', 'feature_range': (0, 1)}}, got {type(spec).__name__} {spec!r}.")
    for k, v in kwargs.items():
        if k in d and not _same(d[k], v):
            raise ConfigError(f"{k!r} is given twice with different values ({d[k]!r} and {v!r}); give it once.")
        d[k] = v
    bad = [k for k in d if not isinstance(k, str) or k not in SPEC_KEYS + tuple(_SPEC_ALIASES)]
    if bad:
        import difflib
        hints = []
        for k in bad:
            close = difflib.get_close_matches(k, SPEC_KEYS + tuple(_SPEC_ALIASES), 1) if isinstance(k, str) else []
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"unknown DataNormalizer key(s) {', '.join(hints)}; valid keys: 'strategy' (alias "
                          "'method'), 'feature_range', 'power_method'.")
    if "strategy" in d and "method" in d and not _same(d["strategy"], d["method"]):
        raise ConfigError(f"the DataNormalizer setting names two strategies, 'strategy': {d['strategy']!r} and "
                          f"'method': {d['method']!r} ('method' is an alias of 'strategy'); give only 'strategy'.")
    strategy = d.get("strategy", d.get("method", "zscore"))
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ConfigError(f"unknown normalization strategy {strategy!r}{_hint(strategy, STRATEGIES)}; choose one of "
                          f"{', '.join(STRATEGIES)}.")
    feature_range = _check_feature_range(d.get("feature_range", (0.0, 1.0)))
    power_method = d.get("power_method", "yeo-johnson")
    if not isinstance(power_method, str) or power_method not in POWER_METHODS:
        raise ConfigError(f"power_method must be 'yeo-johnson' (any data) or 'box-cox' (strictly positive data), "
                          f"got {power_method!r}{_hint(power_method, POWER_METHODS)}.")
    return {"strategy": strategy, "feature_range": feature_range, "power_method": power_method}


# ---- numerics -------------------------------------------------------------------------------------
def _prescale(A):
    """A (n, C) -> (C,) powers of two p such that A / p has its largest magnitude in [1/2, 2) (1 when safe)."""
    m = np.abs(A).max(0)
    p = np.ones_like(m)
    out = (m > _BAND) | ((m < 1.0 / _BAND) & (m > 0))
    _, e = np.frexp(m[out])
    p[out] = np.ldexp(1.0, e - 1)
    return p


def _center_scale(S, strategy):
    """S (n, C) prescaled to |S| < 2**401 -> (center, scale), each (C,); scale > 0, constant columns get 1."""
    if strategy == "zscore":
        c, s = S.mean(0), S.std(0)
    elif strategy == "minmax":
        c = S.min(0)
        s = S.max(0) - c
    elif strategy == "robust":
        q1, c, q3 = np.percentile(S, [25, 50, 75], axis=0)
        s = q3 - q1
        s = np.where(s > 2.0 ** -500 * np.abs(S - c).max(0), s, 0.0)   # keeps |(x - median) / IQR| finite
    else:  # maxabs
        c, s = np.zeros(S.shape[1]), np.abs(S).max(0)
    return c, np.where((s > 0) & np.isfinite(s), s, 1.0)


def _yeo_johnson(x, lam):
    """psi(x, lambda): ((x+1)^lam - 1)/lam for x >= 0, -((1-x)^(2-lam) - 1)/(2-lam) for x < 0 (log1p/expm1 form)."""
    out = np.empty_like(x)
    pos = x >= 0
    with np.errstate(over="ignore"):
        out[pos] = np.expm1(lam * np.log1p(x[pos])) / lam if abs(lam) > 1e-12 else np.log1p(x[pos])
        mu = 2.0 - lam
        out[~pos] = -np.expm1(mu * np.log1p(-x[~pos])) / mu if abs(mu) > 1e-12 else -np.log1p(-x[~pos])
    return out


def _yeo_johnson_inv(y, lam):
    """The inverse of psi; NaN or Inf where y lies outside psi's image (only for lambda outside [0, 2])."""
    out = np.empty_like(y)
    pos = y >= 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out[pos] = np.expm1(np.log1p(lam * y[pos]) / lam) if abs(lam) > 1e-12 else np.expm1(y[pos])
        mu = 2.0 - lam
        out[~pos] = -np.expm1(np.log1p(-mu * y[~pos]) / mu) if abs(mu) > 1e-12 else -np.expm1(-y[~pos])
    return out


def _box_cox(x, lam):
    """(x^lam - 1)/lam, log(x) at lambda = 0; x > 0."""
    with np.errstate(over="ignore"):
        return np.log(x) if abs(lam) < 1e-12 else np.expm1(lam * np.log(x)) / lam


def _box_cox_inv(y, lam):
    """(1 + lam*y)^(1/lam): values below -1/lam (lam > 0; the image of x -> 0+) map to 0, the domain's edge."""
    if abs(lam) < 1e-12:
        with np.errstate(over="ignore"):
            return np.exp(y)
    base = lam * y
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.exp(np.log1p(base) / lam)
    if lam > 0:
        out = np.where(base <= -1.0, 0.0, out)
    return out                                           # lam < 0 (files from older versions): NaN past the bound


def _log_var(y):
    """log(var(y)) without overflow (prescaled by a power of two); inf when y is not finite or constant."""
    if not np.isfinite(y).all():
        return np.inf
    p = _prescale(y[:, None])[0]
    v = (y / p).var()
    return 2 * np.log(p) + np.log(v) if v > 0 else np.inf


def _fit_lambda(x, method):
    """Maximum-likelihood lambda within LAMBDA_RANGE[method]: a grid, then golden-section refinement.

    Negative log-likelihood (up to constants): n/2 log var(psi(x, lam)) - (lam - 1) sum sign(x) log1p|x|
    (Yeo-Johnson) or - (lam - 1) sum log x (Box-Cox).
    """
    n = x.size
    jac = (np.sign(x) * np.log1p(np.abs(x))).sum() if method == "yeo-johnson" else np.log(x).sum()
    f = _yeo_johnson if method == "yeo-johnson" else _box_cox

    def nll(lam):
        return 0.5 * n * _log_var(f(x, lam)) - (lam - 1) * jac

    lo0, hi0 = LAMBDA_RANGE[method]
    grid = np.linspace(lo0, hi0, 61)
    vals = np.array([nll(l) for l in grid])
    if not np.isfinite(vals).any():
        return 1.0
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    lam = float((lo + hi) / 2)
    return lam if nll(lam) <= vals[k] else float(grid[k])


_WHY = {
    "zscore": "the value is too far from the fitted mean for float64",
    "minmax": "the value is too far outside the fitted [min, max] for float64",
    "robust": "the value is too far from the fitted median for float64",
    "maxabs": "the value is too large for float64 at the fitted scale",
    "log": "log/exp overflow: the value is outside the range the fitted shift supports",
    "diff": "the difference of consecutive values (or their running sum) overflows float64",
    "pct_change": "the ratio of consecutive values (or their running product) overflows float64",
    "power": "the power transform (or its inverse) overflows float64 this far outside the fitted range",
}


def _check_state(st, strategy, power_method):
    """A state dict from ``to_dict`` -> the fitted state, every key, length and value checked (ConfigError)."""
    if not isinstance(st, Mapping):
        raise ConfigError(f"DataNormalizer state must be a dict, got {type(st).__name__}.")
    required = ("n_columns",) + _STATE_KEYS[strategy]
    optional = ("prescale",) if strategy in AFFINE + ("power",) else ()
    missing = [k for k in required if k not in st]
    unknown = [k for k in st if k not in required + optional]
    if missing or unknown:
        raise ConfigError(f"DataNormalizer state for {strategy!r} " +
                          (f"lacks {missing}" if missing else "") + (" and " if missing and unknown else "") +
                          (f"has unknown keys {unknown}" if unknown else "") +
                          f"; expected {list(required + optional)}. The file or dict is truncated, edited or foreign.")
    nc = st["n_columns"]
    if isinstance(nc, (bool, np.bool_)) or not isinstance(nc, numbers.Integral) or not 1 <= nc <= _MAX_COLUMNS:
        raise ConfigError(f"DataNormalizer state: n_columns must be an integer in [1, {_MAX_COLUMNS}], got {nc!r}.")
    out = {"n_columns": int(nc)}
    for k in required[1:] + tuple(k for k in optional if k in st):
        v = st[k]
        try:
            a = np.asarray(v)
            ok = a.dtype.kind in "iuf" and a.shape == (nc,)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"DataNormalizer state: {k!r} must be a list of {nc} numbers, got {str(v)[:80]!r}.")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ConfigError(f"DataNormalizer state: {k!r} holds non-finite values {a.tolist()[:8]}.")
        if k in ("scale", "prescale") and not (a > 0).all():
            raise ConfigError(f"DataNormalizer state: {k!r} must be positive, got {a.tolist()[:8]}.")
        if k == "lambdas" and not (np.abs(a) <= 10).all():
            raise ConfigError(f"DataNormalizer state: lambdas must lie in [-10, 10], got {a.tolist()[:8]}.")
        if k == "ref" and strategy == "pct_change" and (a == 0).any():
            raise ConfigError("DataNormalizer state: pct_change reference values must be nonzero.")
        out[k] = a
    if "prescale" in optional:
        out.setdefault("prescale", np.ones(nc))
    return out
