"""The optimizer's per-batch passes compiled: Adam's update and the weights' moving average, each one
call for all the parameter arrays (the same arithmetic as ``minilstm.optim`` and
``minilstm.forecast.training.WeightAverage``).

``Adam.step`` in NumPy makes about a dozen whole-array passes and temporaries per parameter;
for a model of a few tens of thousands of weights those calls, not the arithmetic, are the
cost (measured: 0.36 ms of a 3.5 ms training batch at 2x64 hidden). Here each element is read
and written once, and all the arrays go in one call (a tuple of flat views): a call per array
cost a Numba dispatch each, 8 per batch for a two-layer LSTM with its head. No fast-math flags:
every operation rounds exactly as NumPy's does in the array's dtype (the scalars are cast to it
first, as NumPy casts Python floats), so the result is bitwise the same and seeded training does
not change (``tests/test_optim.py`` holds it).
"""
import numba
import numpy as np

JIT = dict(cache=True, nogil=True, error_model="numpy", no_cfunc_wrapper=True)     # no fastmath: NumPy's rounding


@numba.njit(**JIT, no_cpython_wrapper=True)                  # called from compiled code only
def _adam_update(p, g, m, v, lr, b1, one_minus_b1, b2, one_minus_b2, c1, c2, eps):
    """In place, element by element, p, g, m, v flat and of one dtype (the scalars in it):
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;  p -= lr (m / c1) / (sqrt(v / c2) + eps)."""
    for i in range(p.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        vi = b2 * v[i] + one_minus_b2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= lr * (mi / c1) / (np.sqrt(vi / c2) + eps)


@numba.njit(**JIT)
def _adam_update_all(ps, gs, ms, vs, lr, b1, one_minus_b1, b2, one_minus_b2, c1, c2, eps):
    """``_adam_update`` on every k of the tuples ps, gs, ms, vs (flat arrays of one dtype)."""
    for k in range(len(ps)):
        _adam_update(ps[k], gs[k], ms[k], vs[k], lr, b1, one_minus_b1, b2, one_minus_b2, c1, c2, eps)


@numba.njit(**JIT)
def _average_update_all(avgs, ws, d, one_minus_d):
    """avg = d avg + (1 - d) w, in place, for every k of the tuples avgs, ws (flat arrays of one dtype);
    rounded as NumPy's ``a *= d; a += (1 - d) * w``: the two products, then the sum."""
    for k in range(len(avgs)):
        a, w = avgs[k], ws[k]
        for i in range(a.shape[0]):
            a[i] = a[i] * d + one_minus_d * w[i]


def _check(kernel, names, groups):
    """Sequences of NumPy arrays, as many in each; the k-th of every sequence of one float dtype and shape and
    C-contiguous (a strided array's flat view would be a copy, and an in-place update would be lost)."""
    from ..errors import ShapeError
    from .contract import check_contract
    if len({len(g) for g in groups}) != 1 or not len(groups[0]):
        raise ShapeError(f"{kernel}: {', '.join(names)} must be non-empty sequences of the same length.")
    dt = groups[0][0].dtype if isinstance(groups[0][0], np.ndarray) else None
    for arrays in zip(*groups):
        ref = arrays[0]
        if all(type(a) is np.ndarray and a.flags.c_contiguous and a.shape == ref.shape and a.dtype == dt
               for a in arrays):
            continue
        check_contract(kernel, {n: (a, getattr(ref, "shape", ())) for n, a in zip(names, arrays)})
        raise ShapeError(f"{kernel}: every array must have the dtype of the first ({dt}).")
    if not all(a.flags.writeable for a in groups[0]):
        raise ShapeError(f"{kernel}: {names[0]} must be writeable arrays (they are updated in place).")


def adam_update(ps, gs, ms, vs, lr, b1, b2, c1, c2, eps):
    """Fused Adam step on sequences of NumPy arrays (p, g, m, v of each k: one float dtype and shape, all
    C-contiguous, checked here: ``ShapeError``/``InputTypeError`` otherwise). Scalars are Python floats, cast to
    the arrays' dtype here, as NumPy would."""
    _check("adam_update", ("p", "g", "m", "v"), (ps, gs, ms, vs))
    cast = ps[0].dtype.type
    _adam_update_all(*(tuple(a.reshape(-1) for a in arrays) for arrays in (ps, gs, ms, vs)), cast(lr), cast(b1),
                     cast(1.0 - b1), cast(b2), cast(1.0 - b2), cast(c1), cast(c2), cast(eps))


def compile_for(arrays):
    """Compile (or load from the cache) both passes for parameters of these arrays' dtypes, on zero copies of
    them (nothing they hold is read or changed): ``optim.compile_ahead`` queues it for the first training step."""
    z = [np.zeros_like(a) for a in arrays]
    adam_update(z, z, z, z, 1e-3, 0.9, 0.999, 1.0, 1.0, 1e-8)
    average_update(z, z, 0.5)


def average_update(avgs, ws, d):
    """avg = d avg + (1 - d) w for sequences of NumPy arrays (the same conditions as ``adam_update``)."""
    _check("average_update", ("avg", "w"), (avgs, ws))
    cast = avgs[0].dtype.type
    _average_update_all(tuple(a.reshape(-1) for a in avgs), tuple(w.reshape(-1) for w in ws), cast(d),
                        cast(1.0 - d))
