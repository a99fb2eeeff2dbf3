"""Float math for the compiled kernels: ``tanh`` and ``sigmoid`` in the kernels' precision, and the options
every compiled kernel is built with (``JIT``, ``JIT_PAR`` for a threaded region, ``JIT_INNER`` for a kernel only
compiled code calls).

Numba has no vector math library here, so ``math.tanh``/``math.exp`` are scalar calls (about 16-26 ns per
element). In float32 the gates use a rational approximation of tanh (Eigen's, accurate to a few float32
ulps) that LLVM can vectorize; sigmoid(x) = 0.5 tanh(x/2) + 0.5. In float64 they use ``_exp_split``, e^y
as 2^n (1 + q) from the classic reduction y = n ln2 + r and a degree-13 polynomial for q = e^r - 1, all
plain arithmetic and bit moves that LLVM vectorizes (within 4 ulp of libm, so the kernels match the
reference to about 1e-15; a float64 gate pass went from 77 ns per cell with libm to 12.5).

Called from compiled code, ``tanh(x)`` and ``sigmoid(x)`` compile to the overloads below for the
argument's dtype; called from Python they are the plain scalar functions.
"""
import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

# Every compiled kernel's options. No C-callback wrapper (nothing calls a kernel through a C pointer), and none
# for Python either on a kernel only compiled code calls (JIT_INNER): each wrapper is compiled at a first run, and
# together they were about 1 s of the 9-10 s a cold LSTM forward compiled (measured with cProfile).
JIT = dict(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, no_cfunc_wrapper=True)
JIT_PAR = dict(JIT, parallel=True)                                                 # ... a threaded region's
JIT_INNER = dict(JIT, no_cpython_wrapper=True)                                     # ... a callee's


def tanh(x):
    """tanh in the kernels' precision (pure-Python fallback; compiled through the overload below)."""
    return math.tanh(x)


def sigmoid(x):
    """Stable logistic function in the kernels' precision (pure-Python fallback)."""
    z = math.exp(-abs(x))
    return (1.0 if x >= 0 else z) / (1.0 + z)


@intrinsic
def _f64_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits`` (an LLVM bitcast: no memory, vectorizes)."""
    if bits != types.int64:
        return None
    return types.float64(types.int64), lambda context, builder, sig, args: builder.bitcast(args[0], ir.DoubleType())


@intrinsic
def _bits_of_f64(typingctx, x):
    """The IEEE-754 bits of the float64 ``x`` as an int64 (an LLVM bitcast)."""
    if x != types.float64:
        return None
    return types.int64(types.float64), lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(64))


_LOG2E, _LN2_HI, _LN2_LO = 1.4426950408889634, 6.93147180369123816490e-01, 1.90821492927058770002e-10
_ROUNDER = 6755399441055744.0            # 1.5 * 2**52: adding it rounds a float64 to an integer in its low bits
_C = [1.0 / math.factorial(k + 1) for k in range(13)]     # e^r - 1 = r (c0 + c1 r + ... + c12 r^12), c_k = 1/(k+1)!
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12 = _C


@numba.njit(error_model="numpy", fastmath={"contract"})
def _exp_split(y):
    """e^y = scale * (1 + q) for float64 y <= 0 (below -708: as at -708), without a libm call.

    y = n ln2 + r with n = round(y / ln2) and |r| <= ln2 / 2 (ln2 in two parts, so n ln2 is exact);
    q = e^r - 1 by its Taylor series to r^13 (relative error below 1e-17 there); scale = 2^n built
    from its exponent bits. Returns (scale, q): 1 + q for e^y, and scale q + (scale - 1) for e^y - 1
    without cancellation near 0. NaN stays NaN.

    The series is summed by Estrin's scheme (pairs, then pairs of pairs with r^2, r^4, r^8): a tree four
    multiply-adds deep instead of Horner's chain of thirteen. The gate pass is bound by that chain's
    latency, not by the arithmetic: measured 16 -> 12.5 ns per float64 cell (tanh within 4 ulp of NumPy's,
    was 3)."""
    if y < -708.0:
        y = -708.0
    t = y * _LOG2E + _ROUNDER
    n = t - _ROUNDER
    r = (y - n * _LN2_HI) - n * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    s03 = (_C0 + _C1 * r) + (_C2 + _C3 * r) * r2
    s47 = (_C4 + _C5 * r) + (_C6 + _C7 * r) * r2
    s812 = (_C8 + _C9 * r) + (_C10 + _C11 * r) * r2 + _C12 * r4
    q = r * (s03 + s47 * r4 + s812 * (r4 * r4))
    return _f64_from_bits((_bits_of_f64(t) + 1023) << 52), q    # low bits of t hold n: 2^n = bits (n + 1023) << 52


@overload(tanh, jit_options={"error_model": "numpy", "fastmath": {"contract"}})
def _tanh_overload(x):
    if x == types.float32:
        def tanh_f32(x):
            # Eigen's generic_fast_tanh_float: odd rational function on [-7.9988, 7.9988]
            x = min(max(x, np.float32(-7.99881172180175781)), np.float32(7.99881172180175781))
            x2 = x * x
            p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
            p = x2 * p + np.float32(-8.60467152213735e-11)
            p = x2 * p + np.float32(5.12229709037114e-08)
            p = x2 * p + np.float32(1.48572235717979e-05)
            p = x2 * p + np.float32(6.37261928875436e-04)
            p = x2 * p + np.float32(4.89352455891786e-03)
            p = x * p
            q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
            q = x2 * q + np.float32(2.26843463243900e-03)
            q = x2 * q + np.float32(4.89352518554385e-03)
            return p / q
        return tanh_f32

    def tanh_f64(x):
        a = min(abs(x), 20.0) if x == x else x     # tanh(20) is 1 in float64; NaN stays NaN
        scale, q = _exp_split(-2.0 * a)
        e = scale * q + (scale - 1.0)              # e^{-2|x|} - 1, in (-1, 0]
        return math.copysign(-e / (2.0 + e), x)    # tanh|x| = (1 - e^{-2|x|}) / (1 + e^{-2|x|})
    return tanh_f64


@overload(sigmoid, jit_options={"error_model": "numpy", "fastmath": {"contract"}})
def _sigmoid_overload(x):
    if x == types.float32:
        def sigmoid_f32(x):
            return np.float32(0.5) * tanh(np.float32(0.5) * x) + np.float32(0.5)
        return sigmoid_f32

    def sigmoid_f64(x):
        scale, q = _exp_split(-abs(x))
        z = scale * (1.0 + q)          # e^{-|x|}: never overflows
        return (1.0 if x >= 0 else z) / (1.0 + z)
    return sigmoid_f64
