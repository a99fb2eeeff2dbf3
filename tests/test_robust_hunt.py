"""The hostile-input hunt (``hunt_hostile.py``) under pytest for its fast groups, and property-based checks of the SIMD
products and the global norm: every hostile input gets a minilstm error or a right value, none hangs."""
import os
import signal
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilstm.errors import InputTypeError, MiniLSTMError, ShapeError

sys.path.insert(0, os.path.dirname(__file__))
import hunt_hostile  # noqa: E402


@pytest.fixture(scope="module")
def hunt_cases():
    return hunt_hostile.cases()


@pytest.mark.parametrize("group", ["kernels", "optim", "parallel", "pickle", "model", "ensemble", "cli"])
def test_hunt_group_is_clean(hunt_cases, group):
    signal.signal(signal.SIGALRM, hunt_hostile._alarm)
    bad = []
    for _, name, fn, check in (c for c in hunt_cases if c[0] == group):
        signal.alarm(60)
        try:
            r = fn()
            if check is not None and not check(r):
                bad.append(f"wrong: {name}")
        except MiniLSTMError:
            pass
        except hunt_hostile.Hang:
            bad.append(f"hang: {name}")
        except Exception as e:                       # noqa: BLE001
            bad.append(f"unclear {type(e).__name__}: {e} :: {name}")
        finally:
            signal.alarm(0)
    assert not bad, "\n".join(bad[:20])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 9), K=st.integers(0, 70), N=st.integers(0, 40), dt=st.sampled_from([np.float32, np.float64]),
       pad=st.integers(0, 3), fortran=st.booleans(), transposed=st.booleans())
def test_simd_products_equal_matmul_or_refuse(n, K, N, dt, pad, fortran, transposed):
    import kernel_entries
    rng = np.random.default_rng(n * 1000 + K * 10 + N)
    A = rng.standard_normal((n, K + pad)).astype(dt)[:, :K]           # rows strided when pad > 0
    W = rng.standard_normal((N, K) if transposed else (K, N)).astype(dt)
    if fortran:
        W = np.asfortranarray(W)
    f = kernel_entries.product_nt if transposed else kernel_entries.product
    ref = A.astype(np.float64) @ (W.T if transposed else W).astype(np.float64)
    try:
        C = f(A, W)
    except (ShapeError, InputTypeError):
        assert not W.flags.c_contiguous
        return
    assert C.shape == (n, N) and C.dtype == dt
    tight = dt != np.float32
    np.testing.assert_allclose(C, ref, rtol=1e-12 if tight else 1e-4, atol=1e-10 if tight else 1e-4)


@settings(max_examples=80, deadline=None)
@given(exp=st.integers(-320, 307), n=st.integers(1, 50), dt=st.sampled_from([np.float64, np.float32, np.int64]))
def test_global_norm_is_right_at_every_scale(exp, n, dt):
    from minilstm.optim import global_norm
    value = 10.0 ** exp
    if dt == np.float32 and not 1e-44 < value < 3e38 or dt == np.int64 and not 1 <= value < 2 ** 62:
        return
    g = {"a": np.full(n, value, dtype=dt), "b": -np.full(3, value, dtype=dt)}
    stored = float(np.asarray(value, dtype=dt))
    want = stored * (n + 3) ** 0.5
    got = global_norm(g)
    if not np.isfinite(want):
        assert got == np.inf
    else:
        assert got == pytest.approx(want, rel=1e-6)
