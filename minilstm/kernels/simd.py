"""Small matrix products in explicit 256-bit vectors, for the time loop's per-step product at few rows.

``_product(n, N, K, a, lda, w, ldw, c, ldc, zero)``: C = A @ W for row-major A (n, K), W (K, N), C (n, N),
given as addresses and row strides in elements (the arguments of a cblas gemm with alpha 1, beta 0).
``_product_nt(...)``: C = A @ W.T for row-major W (N, K), each element a dot product of two contiguous
rows: BPTT's da_t @ W_h^T without a transposed copy of W_h (a copy cost as much as 20 steps' products).
Both read raw memory and are private (the kernels call them with their own arrays; the tests reach them
through checked entries, ``tests/kernel_entries.py``).

Why not BLAS here: each gemm call packs all of W into a scratch buffer before it multiplies, and at one
to a few rows per step (batch 1, or a small batch split over threads) the packing costs as much as the
product. Why not a plain Numba loop: LLVM cannot keep the output row in registers across the loop over
W's rows (it cannot prove that C and W do not overlap), so every multiply-add also loads and stores C
(measured: a 64x256 vector-matrix product 1.3 us as a loop, 0.7-1.0 us here).

How: ``_tile(MR, NV)`` is a Numba intrinsic that emits, in LLVM IR, the classic register tile: MR rows
by NV vectors of C held in registers while m runs over K, each step one load of NV vectors of W's row m,
one broadcast of A[r, m] per row and MR * NV fused multiply-adds. Every element of C is the chain
fma(A[r, K-1], W[K-1, k], ... fma(A[r, 0], W[0, k], 0)), the same whichever tile or edge loop computes
it, so a row's result does not depend on how many rows are multiplied with it. ``_dot_tile`` is the
same for ``_product_nt``: lane-wise fma chains over K, the lanes summed pairwise in a fixed order, the
rest of K (past the last whole vector) added one by one.
"""
import os

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .math import JIT, JIT_INNER

VECTOR_BYTES = 32                      # AVX2; LLVM splits the vectors where the CPU has narrower ones

# The per-step product h_{t-1} @ W_h (and da_t @ W_h^T) is ``_product`` (``_product_nt``), not BLAS, when the call
# has at most VECTOR_STEP_MAX_ROWS batch rows: a gemm call packs all of W_h before multiplying, which at a few rows a
# step costs about as much as the product (measured, one thread, float32, rows x H x 4H: 1x64x256 0.94 vs
# 3.1 us; 8x96x384 7.4 vs 10.1 us; 16x64x256 6.9 vs 7.5 us; 32x64x256 13.8 vs 13.4 us: 32 rows are 16 a
# thread on two cores). Decided by the call's rows, not a thread's share, so every thread count takes the
# same kind of product (``simd``'s give each row the same bits whatever rows go with it).
# MINILSTM_VECTOR_STEP_MAX_ROWS overrides it (0: always BLAS).
VECTOR_STEP_MAX_ROWS = int(os.environ.get("MINILSTM_VECTOR_STEP_MAX_ROWS", 32))


class _Vec:
    """What a tile's IR is written with: the element and vector types (float32: <8 x float>, float64:
    <4 x double>), LLVM's fused multiply-add on vectors, and typed pointers to A, W and C."""

    def __init__(self, context, builder, sig, args):
        a, self.lda, w, self.ldw, c, self.ldc, self.K, _ = args
        fty = context.get_value_type(sig.args[-1])
        self.b, self.size = builder, 4 if sig.args[-1] == types.float32 else 8
        self.lanes = VECTOR_BYTES // self.size
        self.vty, self.i32 = ir.VectorType(fty, self.lanes), ir.IntType(32)
        self.fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(self.vty, [self.vty] * 3),
                                                  f"llvm.fma.v{self.lanes}f{self.size * 8}")
        self.pa, self.pw, self.pc = (builder.inttoptr(p, fty.as_pointer()) for p in (a, w, c))
        self.zero = ir.Constant(self.vty, [ir.Constant(fty, 0.0)] * self.lanes)

    def int(self, n):
        return ir.Constant(ir.IntType(64), n)

    def at(self, base, row, stride, k):
        """Address of base[row * stride + k] (row a Python int, stride and k IR values)."""
        return self.b.gep(base, [self.b.add(self.b.mul(self.int(row), stride), k)])

    def vector(self, address):
        return self.b.bitcast(address, self.vty.as_pointer())

    def accumulators(self, rows, cols):
        """rows x cols vector registers (allocas that LLVM promotes), set to zero here."""
        return [[cgutils.alloca_once_value(self.b, self.zero) for _ in range(cols)] for _ in range(rows)]

    def fma_into(self, acc, x, y):
        self.b.store(self.b.call(self.fma, [x, y, self.b.load(acc)]), acc)


def _product_intrinsic(emit):
    """A Numba intrinsic ``f(a, lda, w, ldw, c, ldc, K, zero)`` (addresses and strides in elements; zero's type,
    float32 or float64, is the element type) whose IR ``emit(v)`` writes with a ``_Vec`` v."""

    @intrinsic
    def f(typingctx, a, lda, w, ldw, c, ldc, K, zero):
        if zero not in (types.float32, types.float64):
            return None

        def codegen(context, builder, sig, args):
            emit(_Vec(context, builder, sig, args))
            return context.get_dummy_value()

        return types.void(*[types.intp] * 7, zero), codegen

    return f


def _tile(MR, NV):
    """``tile(a, lda, w, ldw, c, ldc, K, zero)``: C[0:MR, 0:NV*lanes] = A[0:MR, 0:K] @ W[0:K, 0:NV*lanes]."""

    def emit(v):
        acc = v.accumulators(MR, NV)
        splat = ir.Constant(ir.VectorType(v.i32, v.lanes), [0] * v.lanes)
        with cgutils.for_range(v.b, v.K) as loop:
            m = loop.index
            w_m = v.b.gep(v.pw, [v.b.mul(m, v.ldw)])                                          # row m of W
            wv = [v.b.load(v.vector(v.b.gep(w_m, [v.int(j * v.lanes)])), align=v.size) for j in range(NV)]
            for r in range(MR):
                s = v.b.load(v.at(v.pa, r, v.lda, m))
                sv = v.b.insert_element(ir.Constant(v.vty, ir.Undefined), s, ir.Constant(v.i32, 0))
                sv = v.b.shuffle_vector(sv, ir.Constant(v.vty, ir.Undefined), splat)          # A[r, m] in every lane
                for j in range(NV):
                    v.fma_into(acc[r][j], sv, wv[j])
        for r in range(MR):
            for j in range(NV):
                v.b.store(v.b.load(acc[r][j]), v.vector(v.at(v.pc, r, v.ldc, v.int(j * v.lanes))), align=v.size)

    return _product_intrinsic(emit)


_tile_4x3, _tile_4x1, _tile_1x8, _tile_1x1 = _tile(4, 3), _tile(4, 1), _tile(1, 8), _tile(1, 1)


def _dot_tile(MR, NJ):
    """``dot_tile(a, lda, w, ldw, c, ldc, K, zero)``: C[0:MR, 0:NJ] = A[0:MR, 0:K] @ W[0:NJ, 0:K].T for K a
    multiple of the lanes. Each C[r, j] is the lane-wise fma chain over K in vector steps, then the lanes summed
    pairwise in a fixed order: the same in every tile."""

    def emit(v):
        acc = v.accumulators(MR, NJ)
        with cgutils.for_range(v.b, v.b.udiv(v.K, v.int(v.lanes))) as loop:
            k = v.b.mul(loop.index, v.int(v.lanes))
            wv = [v.b.load(v.vector(v.at(v.pw, j, v.ldw, k)), align=v.size) for j in range(NJ)]  # W[j, k:k+lanes]
            for r in range(MR):
                av = v.b.load(v.vector(v.at(v.pa, r, v.lda, k)), align=v.size)                # A[r, k:k+lanes]
                for j in range(NJ):
                    v.fma_into(acc[r][j], av, wv[j])
        for r in range(MR):
            for j in range(NJ):
                x = v.b.load(acc[r][j])
                parts = [v.b.extract_element(x, ir.Constant(v.i32, q)) for q in range(v.lanes)]
                while len(parts) > 1:                                                         # pairwise lane sum
                    parts = [v.b.fadd(parts[q], parts[q + 1]) for q in range(0, len(parts), 2)]
                v.b.store(parts[0], v.at(v.pc, r, v.ldc, v.int(j)))

    return _product_intrinsic(emit)


_dot_4x2, _dot_1x8, _dot_1x1 = _dot_tile(4, 2), _dot_tile(1, 8), _dot_tile(1, 1)


@numba.njit(**JIT_INNER)
def _columns(nr, N, K, a, lda, w, ldw, c, ldc, zero, sz):
    """C[0:nr] = A[0:nr] @ W for nr = 4 (tiles of 4 rows) or 1 (one row), every column: wide tiles, then one-vector
    tiles, then the last columns (fewer than a vector) one by one in a scalar loop (which columns take it depends
    on N only, so every row's column k is computed the same way)."""
    lanes = VECTOR_BYTES // sz
    k0 = 0
    wide = 3 * lanes if nr == 4 else 8 * lanes
    while k0 + lanes <= N:
        step = wide if k0 + wide <= N else lanes
        wk, ck = w + k0 * sz, c + k0 * sz
        if nr == 4 and step == wide:
            _tile_4x3(a, lda, wk, ldw, ck, ldc, K, zero)
        elif nr == 4:
            _tile_4x1(a, lda, wk, ldw, ck, ldc, K, zero)
        elif step == wide:
            _tile_1x8(a, lda, wk, ldw, ck, ldc, K, zero)
        else:
            _tile_1x1(a, lda, wk, ldw, ck, ldc, K, zero)
        k0 += step
    if k0 < N:
        A = numba.carray(_ptr(a, zero), (nr - 1) * lda + K)
        W = numba.carray(_ptr(w, zero), (K - 1) * ldw + N)
        C = numba.carray(_ptr(c, zero), (nr - 1) * ldc + N)
        for r in range(nr):
            for k in range(k0, N):
                s = zero
                for m in range(K):
                    s += A[r * lda + m] * W[m * ldw + k]
                C[r * ldc + k] = s


@intrinsic
def _ptr(typingctx, address, zero):
    """A typed pointer (float32* or float64*, by zero's type) to an integer address, for ``numba.carray``."""
    if zero not in (types.float32, types.float64):
        return None
    sig = types.CPointer(zero)(types.intp, zero)
    return sig, lambda context, builder, sig, args: builder.inttoptr(
        args[0], context.get_value_type(sig.args[1]).as_pointer())


@intrinsic
def _itemsize(typingctx, zero):
    """Bytes of zero's type (4 or 8), as a compile-time constant."""
    if zero not in (types.float32, types.float64):
        return None
    size = 4 if zero == types.float32 else 8
    return types.intp(zero), lambda context, builder, sig, args: ir.Constant(ir.IntType(64), size)


@intrinsic
def zero_of(typingctx, a):
    """0 in the element type of the float32 or float64 array ``a`` (typed, unlike a literal 0.0)."""
    if not isinstance(a, types.Array) or a.dtype not in (types.float32, types.float64):
        return None
    return a.dtype(a), lambda context, builder, sig, args: ir.Constant(context.get_value_type(sig.return_type), 0.0)


@numba.njit(**JIT_INNER)
def _dot_rows(nr, N, K, a, lda, w, ldw, c, ldc, zero, sz):
    """C[0:nr] = A[0:nr] @ W.T for nr = 4 or 1: dot tiles over the vector part of K, then the rest of K added
    element by element (same order for every row and column)."""
    lanes = VECTOR_BYTES // sz
    kv = K - K % lanes
    j = 0
    wide = 2 if nr == 4 else 8
    if kv > 0:
        while j + wide <= N:
            if nr == 4:
                _dot_4x2(a, lda, w + j * ldw * sz, ldw, c + j * sz, ldc, kv, zero)
            else:
                _dot_1x8(a, lda, w + j * ldw * sz, ldw, c + j * sz, ldc, kv, zero)
            j += wide
        for r in range(nr):
            for jj in range(j, N):
                _dot_1x1(a + r * lda * sz, lda, w + jj * ldw * sz, ldw, c + (r * ldc + jj) * sz, ldc, kv, zero)
    A = numba.carray(_ptr(a, zero), (nr - 1) * lda + K)
    W = numba.carray(_ptr(w, zero), (N - 1) * ldw + K)
    C = numba.carray(_ptr(c, zero), (nr - 1) * ldc + N)
    for r in range(nr):
        for jj in range(N):
            s = C[r * ldc + jj] if kv > 0 else zero
            for m in range(kv, K):
                s += A[r * lda + m] * W[jj * ldw + m]
            C[r * ldc + jj] = s


@numba.njit(**JIT)
def _product(n, N, K, a, lda, w, ldw, c, ldc, zero):
    """C (n, N) = A (n, K) @ W (K, N), row-major, addresses a, w, c and row strides in elements; C must not
    overlap A or W. zero: 0 in the element type (float32 or float64). Private: it trusts the addresses
    (``product`` is the checked entry for arrays)."""
    sz = _itemsize(zero)
    r = 0
    while r < n:                                      # the rows of C in blocks of 4, then one by one
        nr = 4 if r + 4 <= n else 1
        _columns(nr, N, K, a + r * lda * sz, lda, w, ldw, c + r * ldc * sz, ldc, zero, sz)
        r += nr


@numba.njit(**JIT)
def _product_nt(n, N, K, a, lda, w, ldw, c, ldc, zero):
    """C (n, N) = A (n, K) @ W.T for row-major W (N, K): the product with a transposed matrix without copying it
    (each element a dot product of two contiguous rows). Addresses and strides as in ``_product``. (Its own row
    loop, not one shared with ``_product`` through a flag: a shared function would be compiled for both flags,
    by the forward and by the backward, which ``compile_ahead`` compiles in two processes at once.)"""
    sz = _itemsize(zero)
    r = 0
    while r < n:
        nr = 4 if r + 4 <= n else 1
        _dot_rows(nr, N, K, a + r * lda * sz, lda, w, ldw, c + r * ldc * sz, ldc, zero, sz)
        r += nr


# ---- compiled helpers of the kernels (they trust their callers: C-contiguous arrays of one dtype) ----

@numba.njit(**JIT_INNER)
def vecmat(v, W, out):
    """out = v @ W for one row vector: v (M,), W (M, N), out (N,), all C-contiguous and of one dtype (read
    as raw memory). The batch-1 loops without NumPy's gemm (LSTM and GRU) use it for h_{t-1} @ W_h forward
    and da_t @ W_h.T backward (``_product``: a BLAS call would pack all of W for one row, every step)."""
    M, N = W.shape
    _product(1, N, M, v.ctypes.data, M, W.ctypes.data, N, out.ctypes.data, N, zero_of(out))


@numba.njit(**JIT)
def transpose(W, out):
    """out (N, M) = W (M, N).T, by blocks of 8 rows of W, so each column read is 8 nearby elements, not one
    element per row (measured, W_h (H, 4H) float32: H=64 15 vs 17-22 us for np.ascontiguousarray(W.T);
    H=256 235 vs 840 us)."""
    M, N = W.shape
    for i0 in range(0, M, 8):
        i1 = min(i0 + 8, M)
        for j in range(N):
            for i in range(i0, i1):
                out[j, i] = W[i, j]
