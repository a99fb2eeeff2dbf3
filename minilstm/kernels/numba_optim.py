"""Adam's update as one compiled pass per parameter array (the same arithmetic as ``minilstm.optim``).

``Adam.step`` in NumPy makes about a dozen whole-array passes and temporaries per parameter;
for a model of a few tens of thousands of weights those calls, not the arithmetic, are the
cost (measured: 0.36 ms of a 3.5 ms training batch at 2x64 hidden). Here each element is read
and written once. No fast-math flags: every operation rounds exactly as NumPy's does in the
array's dtype (the scalars are cast to it first, as NumPy casts Python floats), so the result
is bitwise the same and seeded training does not change (``tests/test_optim.py`` holds it).
"""
import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy")
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


def adam_update(p, g, m, v, lr, b1, b2, c1, c2, eps):
    """Fused Adam step on NumPy arrays of one float dtype and shape, all C-contiguous (the caller checks).
    Scalars are Python floats; they are cast to the arrays' dtype here, as NumPy would."""
    cast = p.dtype.type
    _adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), cast(lr), cast(b1), cast(1.0 - b1),
                 cast(b2), cast(1.0 - b2), cast(c1), cast(c2), cast(eps))
