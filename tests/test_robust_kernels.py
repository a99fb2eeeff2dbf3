"""Hostile inputs at the layers and the compiled kernels: each must be a clear minilstm error, never a crash.

The cases run in ONE child process (Numba's start-up is paid once): a segfault or an abort
there fails these tests instead of killing pytest. Each case prints one JSON line as it ends,
so the cases before a crash still report.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minilstm.backend import numba_available

PRELUDE = ("""
import json, sys
import numpy as np
from minilstm import LSTM, core
from minilstm.errors import MiniLSTMError, ShapeError
from minilstm.nn import Linear
from minilstm.kernels import numba_cpu as N
sys.path.insert(0, %r)
import kernel_entries as E
rng = np.random.default_rng(0)

def P(D, H, dt=np.float64):
    return {"W_x": rng.standard_normal((D, 4 * H)).astype(dt), "W_h": rng.standard_normal((H, 4 * H)).astype(dt),
            "b": rng.standard_normal(4 * H).astype(dt)}

def fwd(l, B=2, T=3):
    return l.forward(rng.standard_normal((B, T, l.input_size)))

def cache(B=2, T=3, D=4, H=5):
    return N.lstm_forward(rng.standard_normal((B, T, D)), None, None, P(D, H))[2]

def x(B=2, T=3, D=4):
    return rng.standard_normal((B, T, D))

def z(*shape):
    return np.zeros(shape)
""" % os.path.dirname(os.path.abspath(__file__)))

RUNNER = """
for cid, code in json.loads(sys.stdin.read()):
    try:
        exec(code, dict(globals()))
        row = [cid, None, "", True]
    except Exception as e:
        row = [cid, type(e).__name__, str(e), isinstance(e, MiniLSTMError)]
    print(json.dumps(row), flush=True)
"""

# (id, code, expected error class or None for a call that must work, words the message must contain)
CASES = [
    # -- the layer: gradients against the cached forward (issue reproductions first) --
    ("dh_n batch 4000", "l = LSTM(4, 5); fwd(l); l.backward(None, dh_n=np.ones((1, 4000, 5)))", "ShapeError",
     ["dh_n", "(1, 2, 5)", "(1, 4000, 5)"]),
    ("dh_n batch 4000, batch 3", "l = LSTM(4, 5); fwd(l, B=3); l.backward(None, dh_n=np.ones((1, 4000, 5)))",
     "ShapeError", ["dh_n", "(1, 3, 5)"]),
    ("dc_n wrong hidden", "l = LSTM(4, 5); fwd(l); l.backward(None, dc_n=np.ones((1, 2, 7)))", "ShapeError",
     ["dc_n", "(1, 2, 7)"]),
    ("dc_n wrong layers", "l = LSTM(4, 5, num_layers=2); fwd(l); l.backward(None, dc_n=np.ones((1, 2, 5)))",
     "ShapeError", ["dc_n", "(2, 2, 5)"]),
    ("batch-1 short dout", "l = LSTM(4, 5); fwd(l, B=1); l.backward(np.ones((1, 2, 5)))", "ShapeError",
     ["dout", "(1, 3, 5)", "(1, 2, 5)"]),
    ("dout too long", "l = LSTM(4, 5); fwd(l); l.backward(np.ones((2, 9, 5)))", "ShapeError", ["dout", "(2, 3, 5)"]),
    ("dout wrong hidden", "l = LSTM(4, 5); fwd(l); l.backward(np.ones((2, 3, 6)))", "ShapeError", ["dout"]),
    ("dout 2-D", "l = LSTM(4, 5); fwd(l); l.backward(np.ones((2, 5)))", "ShapeError", ["dout", "3 dimensions"]),
    ("dout broadcastable (1, 1, 5)", "l = LSTM(4, 5); fwd(l); l.backward(np.ones((1, 1, 5)))", "ShapeError",
     ["dout", "(2, 3, 5)"]),
    ("dout complex", "l = LSTM(4, 5); fwd(l); l.backward(np.ones((2, 3, 5), complex))", "InputTypeError",
     ["dout", "complex"]),
    ("dout strings", "l = LSTM(4, 5); fwd(l); l.backward(np.full((2, 3, 5), 'a'))", "InputTypeError", ["dout"]),
    ("dout a list", "l = LSTM(4, 5); fwd(l); l.backward([[[1.0] * 5] * 3] * 2)", "InputTypeError",
     ["dout", "np.asarray"]),
    ("backward before forward", "LSTM(4, 5).backward(None)", "NotFittedError", ["before forward", "forward(x)"]),
    ("backward twice", "l = LSTM(4, 5); fwd(l); l.backward(None); l.backward(None)", "NotFittedError",
     ["already", "forward(x) again"]),
    ("a refused backward keeps the cache",
     "l = LSTM(4, 5); fwd(l)\ntry:\n    l.backward(np.ones((2, 1, 5)))\nexcept ShapeError:\n    pass\nl.backward(None)",
     None, []),
    # -- the layer: forward inputs --
    ("x 2-D", "LSTM(4, 5).forward(np.ones((3, 4)))", "ShapeError", ["x", "3 dimensions"]),
    ("x wrong features", "LSTM(4, 5).forward(np.ones((2, 3, 6)))", "ShapeError", ["x", "(batch, time, 4)", "6"]),
    ("x NaN", "a = x(); a[1, 2, 3] = np.nan; LSTM(4, 5).forward(a)", "DataError", ["x", "NaN", "(1, 2, 3)"]),
    ("x Inf", "a = x(); a[0, 0, 0] = np.inf; LSTM(4, 5).forward(a)", "DataError", ["x", "Inf"]),
    ("x object dtype", "LSTM(4, 5).forward(np.empty((2, 3, 4), object))", "InputTypeError", ["x", "object"]),
    ("x datetime", "LSTM(4, 5).forward(np.zeros((2, 3, 4), 'datetime64[s]'))", "InputTypeError", ["x"]),
    ("x complex", "LSTM(4, 5).forward(np.ones((2, 3, 4), complex))", "InputTypeError", ["x", "complex"]),
    ("x a list", "LSTM(4, 5).forward([[[0.0] * 4]])", "InputTypeError", ["x", "np.asarray"]),
    ("x empty batch", "LSTM(4, 5).forward(np.ones((0, 3, 4)))", "ShapeError", ["at least one"]),
    ("x empty time", "LSTM(4, 5).forward(np.ones((2, 0, 4)))", "ShapeError", ["at least one"]),
    ("h0 wrong hidden", "LSTM(4, 5).forward(x(), h0=np.zeros((1, 2, 6)))", "ShapeError", ["h0", "(1, 2, 5)"]),
    ("c0 wrong layers", "LSTM(4, 5).forward(x(), c0=np.zeros((2, 2, 5)))", "ShapeError", ["c0", "(1, 2, 5)"]),
    ("h0 batch 4000", "LSTM(4, 5).forward(x(), h0=np.zeros((1, 4000, 5)))", "ShapeError", ["h0"]),
    ("h0 NaN", "LSTM(4, 5).forward(x(), h0=np.full((1, 2, 5), np.nan))", "DataError", ["h0", "NaN"]),
    ("masks wrong count", "LSTM(4, 5, num_layers=3, dropout=0.5).forward(x(), masks=[np.ones((2, 3, 5))])",
     "ShapeError", ["masks", "2 arrays"]),
    ("masks wrong shape", "LSTM(4, 5, num_layers=2, dropout=0.5).forward(x(), masks=[np.ones((2, 1, 5))])",
     "ShapeError", ["masks[0]", "(2, 3, 5)"]),
    ("dropout NaN", "LSTM(4, 5, dropout=float('nan'))", "ConfigError", ["dropout", "finite"]),
    ("forget_bias a string", "LSTM(4, 5, forget_bias='1')", "ConfigError", ["forget_bias"]),
    ("num_layers 10**9", "LSTM(4, 5, num_layers=10 ** 9)", "ConfigError", ["num_layers", "1024"]),
    ("hidden_size 10**6", "LSTM(4, 10 ** 6)", "ConfigError", ["hidden_size=1000000", "GiB"]),
    ("dtype float16", "LSTM(4, 5, dtype=np.float16)", "ConfigError", ["dtype", "float32 or float64"]),
    ("dtype nonsense", "LSTM(4, 5, dtype='floaty')", "ConfigError", ["dtype", "floaty"]),
    ("Linear x wrong width", "Linear(3, 2).forward(np.ones((4, 5)))", "ShapeError", ["x", "(batch, 3)"]),
    ("Linear dy wrong", "m = Linear(3, 2); m.forward(np.ones((4, 3))); m.backward(np.ones((4, 3)))", "ShapeError",
     ["dy", "(4, 2)"]),
    ("Linear backward before forward", "Linear(3, 2).backward(np.ones((4, 2)))", "NotFittedError", ["forward"]),
    ("Linear zero features", "Linear(0, 2)", "ConfigError", ["in_features"]),
    # -- the Numba sequence functions called directly --
    ("numba bias of length 5", "p = P(4, 5); p['b'] = p['b'][:5]; N.lstm_forward(x(), None, None, p)",
     "ShapeError", ["params['b']", "(20,)", "(5,)"]),
    ("numba W_h not (H, 4H)", "p = P(4, 5); p['W_h'] = np.ones((5, 16)); N.lstm_forward(x(), None, None, p)",
     "ShapeError", ["W_h", "4H"]),
    ("numba W_x for another D", "N.lstm_forward(x(D=4), None, None, P(3, 5))", "ShapeError", ["W_x", "(4, 20)"]),
    ("numba h0 wrong hidden", "N.lstm_forward(x(), np.zeros((2, 6)), None, P(4, 5))", "ShapeError",
     ["h0", "(2, 5)"]),
    ("numba c0 batch 4000", "N.lstm_forward(x(B=3), None, np.zeros((4000, 5)), P(4, 5))", "ShapeError", ["c0"]),
    ("numba mixed dtypes", "N.lstm_forward(x().astype(np.float32), None, None, P(4, 5))", "InputTypeError",
     ["float32", "float64"]),
    ("numba float16", "N.lstm_forward(x().astype(np.float16), None, None, P(4, 5, np.float16))", "InputTypeError",
     ["float16", "float32 or float64"]),
    ("numba integer x", "N.lstm_forward(np.ones((2, 3, 4), int), None, None, P(4, 5))", "InputTypeError",
     ["x", "int64"]),
    ("numba params missing W_h", "p = P(4, 5); del p['W_h']; N.lstm_forward(x(), None, None, p)", "ShapeError",
     ["missing", "W_h"]),
    ("numba params a list", "N.lstm_forward(x(), None, None, list(P(4, 5).values()))", "InputTypeError",
     ["params", "dict"]),
    ("numba batch-1 short dh_seq", "N.lstm_backward(np.ones((1, 2, 5)), None, None, cache(B=1))", "ShapeError",
     ["dh_seq", "(1, 3, 5)", "(1, 2, 5)"]),
    ("numba dh_T wrong hidden", "N.lstm_backward(None, np.ones((2, 7)), None, cache())", "ShapeError",
     ["dh_T", "(2, 5)"]),
    ("numba dc_T batch 4000", "N.lstm_backward(None, None, np.ones((4000, 5)), cache(B=3))", "ShapeError",
     ["dc_T", "(3, 5)"]),
    ("numba cache missing gates", "c = cache(); del c['gates']; N.lstm_backward(None, None, None, c)",
     "ShapeError", ["cache", "missing", "gates"]),
    ("numba cache gates too short", "c = cache(); c['gates'] = c['gates'][:-1]; N.lstm_backward(None, None, None, c)",
     "ShapeError", ["cache['gates']", "(3, 2, 20)"]),
    ("numba cache hs of another batch", "c = cache(); c['hs'] = c['hs'][:, :1]; N.lstm_backward(None, None, None, c)",
     "ShapeError", ["cache['hs']", "(4, 2, 5)"]),
    ("numba cache not a dict", "N.lstm_backward(None, None, None, (1, 2, 3))", "InputTypeError",
     ["cache", "lstm_forward"]),
    ("numba cache params bias 5",
     "c = cache(); c['params'] = dict(c['params'], b=np.ones(5)); N.lstm_backward(None, None, None, c)",
     "ShapeError", ["cache['params']['b']", "(20,)"]),
    ("numba cache mixed dtypes",
     "c = cache(); c['tanh_c'] = c['tanh_c'].astype(np.float32); N.lstm_backward(None, None, None, c)",
     "InputTypeError", ["tanh_c", "float32"]),
    # -- the compiled kernels' own size contract --
    ("gates_forward_step short bias",
     "E.gates_forward_step(z(2, 20), z(2, 20), z(5), z(2, 5), z(2, 20), z(2, 5), z(2, 5), z(2, 5))", "ShapeError",
     ["gates_forward_step", "bias", "(20,)"]),
    ("gates_forward_step short output",
     "E.gates_forward_step(z(2, 20), z(2, 20), z(20), z(2, 5), z(1, 20), z(2, 5), z(2, 5), z(2, 5))", "ShapeError",
     ["gates_t", "(2, 20)"]),
    ("gates_forward_step mixed dtypes",
     "E.gates_forward_step(z(2, 20), z(2, 20).astype(np.float32), z(20), z(2, 5), z(2, 20), z(2, 5), z(2, 5), "
     "z(2, 5))", "InputTypeError", ["xw_t", "float32"]),
    ("gates_backward_step short db",
     "E.gates_backward_step(z(2, 5), z(2, 5), z(2, 20), z(2, 5), z(2, 5), z(2, 20), z(2, 5), z(4), 1.0)",
     "ShapeError", ["db", "(20,)"]),
    ("forward_loop_b1 short hs",
     "E.forward_loop_b1(z(3, 1, 20), z(5, 20), z(20), z(2, 1, 5), z(4, 1, 5), z(3, 1, 20), z(3, 1, 5), z(1, 20))",
     "ShapeError", ["hs", "(4, 1, 5)"]),
    ("backward_loop_b1 short dh_tm",
     "E.backward_loop_b1(z(1, 1, 5), True, z(1, 5), z(1, 5), z(3, 1, 20), z(4, 1, 5), z(3, 1, 5), z(20, 5), "
     "z(3, 1, 20), z(1, 5), z(1, 5), z(20), 1.0)", "ShapeError", ["dh_tm", "(3, 1, 5)"]),
    ("backward_loop_b1 list", "E.backward_loop_b1([0], False, *[z(1)] * 10, 1.0)", "ShapeError",
     ["backward_loop_b1", "gates"]),
    # -- positive controls: the checked paths still run after all of the above --
    ("a valid layer round trip", "l = LSTM(4, 5, num_layers=2); o, _ = fwd(l, B=1); l.backward(o)", None, []),
    ("valid kernel calls",
     "c = cache(B=3); N.lstm_backward(np.ones((3, 3, 5)), np.ones((3, 5)), None, c)\n"
     "E.gates_forward_step(z(2, 20), z(2, 20), z(20), z(2, 5), z(2, 20), z(2, 5), z(2, 5), z(2, 5))", None, []),
]


@pytest.fixture(scope="module")
def child():
    """Run every case in one fresh interpreter; returns (returncode, stderr, {id: (class, message, is_ours)})."""
    r = subprocess.run([sys.executable, "-c", PRELUDE + RUNNER], input=json.dumps([(c[0], c[1]) for c in CASES]),
                       capture_output=True, text=True, timeout=300)
    rows = {}
    for line in r.stdout.splitlines():
        cid, cls, msg, ours = json.loads(line)
        rows[cid] = (cls, msg, ours)
    return r.returncode, r.stderr, rows


pytestmark = pytest.mark.skipif(not numba_available, reason="Numba is not installed")


def test_the_child_process_ends_normally(child):
    code, err, rows = child
    assert code == 0, f"the child process died (return code {code}): {err[-2000:]}"
    assert len(rows) == len(CASES)


@pytest.mark.parametrize("cid,code,exc,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_case(child, cid, code, exc, words):
    _, err, rows = child
    assert cid in rows, f"no result: the child process crashed before this case finished ({err[-500:]})"
    cls, msg, ours = rows[cid]
    assert cls == exc, f"expected {exc}, got {cls}: {msg}"
    assert ours, f"{cls} is not a minilstm error: {msg}"
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_case_ids_are_unique():
    assert len({c[0] for c in CASES}) == len(CASES)


# ---- property: the Numba kernels agree with the reference, or both refuse alike -------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from minilstm import core  # noqa: E402
from minilstm.errors import InputTypeError, MiniLSTMError, ShapeError  # noqa: E402


def _numba():
    from minilstm.kernels import numba_cpu
    return numba_cpu


sizes = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.integers(1, 6))


@settings(max_examples=30, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2 ** 16), scale=st.sampled_from([0.1, 1.0, 5.0]),
       with_seq=st.booleans(), with_states=st.booleans())
def test_numba_equals_reference_on_random_shapes(sizes, seed, scale, with_seq, with_states):
    B, T, D, H = sizes
    rng = np.random.default_rng(seed)
    p = {"W_x": rng.standard_normal((D, 4 * H)) * scale, "W_h": rng.standard_normal((H, 4 * H)) * scale,
         "b": rng.standard_normal(4 * H) * scale}
    x = rng.standard_normal((B, T, D)) * scale
    h0, c0 = (rng.standard_normal((B, H)) if with_states else None for _ in range(2))
    ref, fast = core.lstm_forward(x, h0, c0, p), _numba().lstm_forward(x, h0, c0, p)
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fast[1][1], ref[1][1], rtol=1e-10, atol=1e-10)
    G = rng.standard_normal((B, T, H)) if with_seq else None
    dT = rng.standard_normal((B, H))
    rb, nb = core.lstm_backward(G, dT, dT, ref[2]), _numba().lstm_backward(G, dT, dT, fast[2])
    for a, b in zip(nb[:3], rb[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    for k in p:
        np.testing.assert_allclose(nb[3][k], rb[3][k], rtol=1e-10, atol=1e-10)


def _outcome(fn):
    try:
        fn()
        return None
    except Exception as e:  # the class is what is compared
        return type(e)


@settings(max_examples=40, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2 ** 16),
       broken=st.sampled_from(["none", "b", "W_h", "W_x", "h0", "c0", "x_dtype", "dh_seq", "dh_T", "x_ndim"]),
       delta=st.sampled_from([-1, 1, 3]))
def test_numba_and_reference_refuse_alike(sizes, seed, broken, delta):
    """One argument made the wrong size (or dtype): the two families raise the same class, or both work."""
    B, T, D, H = sizes
    rng = np.random.default_rng(seed)
    shapes = {"W_x": (D, 4 * H), "W_h": (H, 4 * H), "b": (4 * H,), "h0": (B, H), "c0": (B, H)}
    if broken in shapes:
        s = list(shapes[broken])
        s[-1] = max(0, s[-1] + delta)
        shapes[broken] = tuple(s)
    p = {k: rng.standard_normal(shapes[k]) for k in ("W_x", "W_h", "b")}
    h0, c0 = rng.standard_normal(shapes["h0"]), rng.standard_normal(shapes["c0"])
    x = rng.standard_normal((B, T, D) if broken != "x_ndim" else (B, T))
    if broken == "x_dtype":
        x = x.astype(np.float32)
    fwd = [_outcome(lambda m=m: m.lstm_forward(x, h0, c0, p)) for m in (core, _numba())]
    assert fwd[0] is fwd[1], f"reference: {fwd[0]}, numba: {fwd[1]}"
    if broken == "none":
        assert fwd[0] is None
    if fwd[0] is not None:
        assert issubclass(fwd[0], MiniLSTMError)
        return
    cache = core.lstm_forward(x, h0, c0, p)[2]
    dh_seq = rng.standard_normal((B, T + (delta if broken == "dh_seq" else 0), H)) if T + delta > 0 else None
    dh_T = rng.standard_normal((B, H + (delta if broken == "dh_T" else 0)))
    bwd = [_outcome(lambda m=m: m.lstm_backward(dh_seq, dh_T, None, cache)) for m in (core, _numba())]
    assert bwd[0] is bwd[1], f"reference: {bwd[0]}, numba: {bwd[1]}"


# ---- the CUDA entry checks, exercised on the CPU with NumPy standing in for CuPy ----------------------

class _ReachedKernel(Exception):
    pass


@pytest.fixture
def fake_cuda(monkeypatch):
    """minilstm.kernels.cuda with NumPy as its array module and a kernel loader that records being reached."""
    import types

    from minilstm.kernels import cuda

    fake = types.SimpleNamespace(ndarray=np.ndarray, ascontiguousarray=np.ascontiguousarray, empty=np.empty,
                                 zeros=np.zeros, matmul=np.matmul, add=np.add)
    monkeypatch.setattr(cuda, "cp", fake)

    def reached(name):
        raise _ReachedKernel(name)
    monkeypatch.setattr(cuda, "_fn", reached)
    return cuda


def _p(D=4, H=5, dt=np.float64):
    rng = np.random.default_rng(1)
    return {"W_x": rng.standard_normal((D, 4 * H)).astype(dt), "W_h": rng.standard_normal((H, 4 * H)).astype(dt),
            "b": rng.standard_normal(4 * H).astype(dt)}


def _cache():
    return core.lstm_forward(np.ones((2, 3, 4)), None, None, _p())[2]


CUDA_CASES = [
    ("bias of length 5", lambda c: c.lstm_forward(np.ones((2, 3, 4)), None, None, dict(_p(), b=np.ones(5))),
     ShapeError, ["params['b']"]),
    ("h0 batch 4000", lambda c: c.lstm_forward(np.ones((2, 3, 4)), np.ones((4000, 5)), None, _p()), ShapeError,
     ["h0"]),
    ("float16", lambda c: c.lstm_forward(np.ones((2, 3, 4), np.float16), None, None, _p(dt=np.float16)),
     InputTypeError, ["cuda", "float16"]),
    ("short dh_seq", lambda c: c.lstm_backward(np.ones((2, 2, 5)), None, None, _cache()), ShapeError,
     ["dh_seq", "(2, 3, 5)"]),
    ("dc_T wrong hidden", lambda c: c.lstm_backward(None, None, np.ones((2, 6)), _cache()), ShapeError, ["dc_T"]),
]


@pytest.mark.parametrize("name,action,exc,words", CUDA_CASES, ids=[c[0] for c in CUDA_CASES])
def test_cuda_entry_refuses_before_any_kernel(fake_cuda, name, action, exc, words):
    with pytest.raises(exc) as e:
        action(fake_cuda)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


def test_cuda_entry_lets_valid_calls_through(fake_cuda):
    with pytest.raises(_ReachedKernel):
        fake_cuda.lstm_forward(np.ones((2, 3, 4)), None, None, _p())
    with pytest.raises(InputTypeError, match="CuPy"):
        fake_cuda.check_device_arrays([1.0], "x", 1, 1, 1)
    with pytest.raises(ShapeError, match="2\\*\\*31"):
        fake_cuda.check_device_arrays(np.ones(1), "x", 3, 2 ** 20, 2 ** 10)
