"""Fused CPU kernels (Numba): the same ``lstm_forward``/``lstm_backward`` as ``minilstm.core``.

Where the time goes. Per time step the reference issues one matrix product and then
about a dozen NumPy elementwise passes, each a full read and write of a (B, 4H) or
(B, H) array plus a temporary. Here each step is one matrix product and ONE compiled
pass over memory that applies the four gate nonlinearities, updates C_t and writes
h_t; the backward step is one pass for all gate derivatives and the carried dC, then
one product for the carried dh. The input projection before the loop and the weight
gradients after it are single large products over all time steps, as in the reference.

Four measured design choices:

* The whole time loop is one compiled call: the per-step product is NumPy's own
  ``cblas_?gemm``, called from compiled code (``blas._gemm``). Issued from Python, every
  step paid a NumPy call and a Numba dispatch, about as long as the product itself at
  small sizes. (Numba's ``np.dot`` would call SciPy's BLAS, a second OpenBLAS whose
  threads fight NumPy's: a 64x24x64 two-layer step went from 7 ms to 42 ms.)
* Batch rows are independent through time, so a layer's forward and backward split
  them over Numba's threads (``rows.forward_ranges``, ``rows.backward_ranges``: one
  threaded region per layer and direction; ``threads.loop_threads`` says how many). Each thread does its rows' input
  projection, time loop, weight-gradient share and dx with a one-thread BLAS, so no
  BLAS thread pool is woken (its spinning would take a core from the loop). Results
  are bitwise reproducible for a given number of threads; between thread counts they
  can differ in the last bits (each range's input projection is its own gemm, whose
  rounding OpenBLAS may vary with the row count, and the weight gradients are sums
  over the row ranges). Measured on 2 cores (training step, ms, before ->
  after): 32,20,10,64,2: 2.8 -> 1.8; 64,50,10,128,2: 50 -> 30; 128,100,32,256,2:
  453 -> 392; one demo ``fit`` epoch: 2.9 s -> 1.7 s.
* At up to VECTOR_STEP_MAX_ROWS batch rows the per-step products are ``simd._product`` and, backward,
  ``simd._product_nt`` with W_h itself (register tiles written in LLVM vector IR) instead of gemm, which
  packs all of W_h on every call, and of a transposed copy of W_h: a training step at batch 1
  (1,20,10,64,2) went from 0.51 to 0.42 ms, at 16,30,5,96,2 from 3.5 to 3.2 ms.
* The gate nonlinearities are ``math.tanh``/``math.sigmoid`` (this package's ``math``: vectorizable
  float32 and float64 forms, no libm call).

Modules: this one holds the LSTM's row passes (``_gates_forward_row``, ``_gates_backward_row``), its
compiled time loops (``_forward_rows``, ``_backward_rows``: one row range each) and the entries; ``rows`` the
products of a row range both cells share and the threaded drivers that run the ranges, ``math`` the float math,
``simd`` the small per-step products, ``threads`` the one thread policy, ``workspace`` the per-thread scratch
arrays, ``blas`` NumPy's gemm. ``numba_gru`` is the GRU's counterpart on the same machinery.

Cache contents and results are the reference's, so the two can be mixed and
compared. Compiled functions are cached on disk (``cache=True``).
"""
import numba
import numpy as np

from ..core.common import carried_gradients, initial_states
from ..core.lstm import CACHE_KEYS, sequence_buffers, sequence_outputs, weights_backward
from ..validate import check_sequence_backward_args, check_sequence_inputs
from . import blas, compile_ahead, rows, simd, threads
from .contract import check_host_arrays, contiguous_weights, project_inputs
from .math import JIT, JIT_INNER, sigmoid, tanh
from .workspace import scratch


@numba.njit(**JIT_INNER)
def _gates_forward_row(a, xw, b, c_prev, g, c_t, h_t, tanh_c):
    """One batch row: a, xw, b (4H,) -> g (4H,) activated gates; c_t, h_t, tanh_c (H,). No array is read and written."""
    H = c_t.shape[0]
    for j in range(H):
        f_t = sigmoid(a[j] + xw[j] + b[j])                               # forget gate
        i_t = sigmoid(a[H + j] + xw[H + j] + b[H + j])                   # input gate
        c_tilde = tanh(a[2 * H + j] + xw[2 * H + j] + b[2 * H + j])      # candidate cell state
        o_t = sigmoid(a[3 * H + j] + xw[3 * H + j] + b[3 * H + j])       # output gate
        C = f_t * c_prev[j] + i_t * c_tilde                  # C_t = f_t * C_{t-1} + i_t * c~_t
        th = tanh(C)
        g[j] = f_t
        g[H + j] = i_t
        g[2 * H + j] = c_tilde
        g[3 * H + j] = o_t
        c_t[j] = C
        tanh_c[j] = th
        h_t[j] = o_t * th                                    # h_t = o_t * tanh(C_t)


@numba.njit(**JIT)
def _gates_forward_step(a, xw_t, bias, c_prev, gates_t, c_t, h_t, tanh_c_t):
    """One step's pointwise part.

    a: (B, 4H) h_{t-1} @ W_h;  xw_t: (B, 4H) x_t @ W_x;  bias: (4H,) b;  c_prev: (B, H) C_{t-1}
    Out: gates_t (B, 4H) activated gates [f, i, c~, o]; c_t, h_t, tanh_c_t (B, H).
    """
    for r in range(a.shape[0]):
        _gates_forward_row(a[r], xw_t[r], bias, c_prev[r], gates_t[r], c_t[r], h_t[r], tanh_c_t[r])


@numba.njit(**JIT_INNER)
def _gates_backward_row(dh, dc_next, g, c_prev, tanh_c, d, dc_prev, db, one):
    """One batch row: dh, dc_next (H,) in; d (4H,) and dc_prev (H,) out; d is also added into db (4H,)."""
    H = dh.shape[0]
    for j in range(H):
        f_t, i_t, c_tilde, o_t, th = g[j], g[H + j], g[2 * H + j], g[3 * H + j], tanh_c[j]
        dC = dc_next[j] + dh[j] * o_t * (one - th * th)      # carried dC + path through h_t
        d[j] = dC * c_prev[j] * f_t * (one - f_t)            # da_f
        d[H + j] = dC * c_tilde * i_t * (one - i_t)          # da_i
        d[2 * H + j] = dC * i_t * (one - c_tilde * c_tilde)  # da_c~
        d[3 * H + j] = dh[j] * th * o_t * (one - o_t)        # da_o
        dc_prev[j] = dC * f_t                                # dC_{t-1}
    for m in range(4 * H):                                   # db = sum over steps and rows of da
        db[m] += d[m]


@numba.njit(**JIT)
def _gates_backward_step(dh, dc_next, gates_t, c_prev, tanh_c_t, da_t, dc_prev, db, one):
    """One step's pointwise backward.

    dh: (B, H) total gradient on h_t (from above + carried); dc_next: (B, H) carried dC_t;
    gates_t: (B, 4H) activated gates; c_prev: (B, H) C_{t-1}; tanh_c_t: (B, H).
    Out: da_t (B, 4H) gradient of the pre-activations; dc_prev (B, H); da_t summed into db (4H,).
    ``one`` carries the dtype.
    """
    for r in range(dh.shape[0]):
        _gates_backward_row(dh[r], dc_next[r], gates_t[r], c_prev[r], tanh_c_t[r], da_t[r], dc_prev[r], db, one)


@numba.njit(**JIT)
def _forward_loop_b1(xw, W_h, bias, hs, cs, gates, tanh_c, a):
    """Batch-1 path when NumPy's gemm is not reachable: the whole time loop in one compiled call,
    h_{t-1} @ W_h by ``simd.vecmat`` (no BLAS call, no Python per step).
    Shapes as in ``lstm_forward`` with B = 1; a: (1, 4H) workspace."""
    for t in range(xw.shape[0]):
        a_r = a[0]
        simd.vecmat(hs[t, 0], W_h, a_r)                    # a = h_{t-1} @ W_h
        _gates_forward_row(a_r, xw[t, 0], bias, cs[t, 0], gates[t, 0], cs[t + 1, 0], hs[t + 1, 0], tanh_c[t, 0])


@numba.njit(**JIT)
def _backward_loop_b1(dh_tm, has_seq, dh_next, dc_next, gates, cs, tanh_c, W_hT, da, dh, dc_prev, db, one):
    """Batch-1 BPTT in one compiled call (NumPy's gemm not reachable); dh_{t-1} = da_t @ W_h.T by
    ``simd.vecmat`` with W_hT (4H, H)."""
    T = gates.shape[0]
    H = W_hT.shape[1]
    for t in range(T - 1, -1, -1):
        for j in range(H):
            dh[0, j] = dh_next[0, j] + dh_tm[t, 0, j] if has_seq else dh_next[0, j]
        _gates_backward_row(dh[0], dc_next[0], gates[t, 0], cs[t, 0], tanh_c[t, 0], da[t, 0], dc_prev[0], db, one)
        for j in range(H):
            dc_next[0, j] = dc_prev[0, j]
        simd.vecmat(da[t, 0], W_hT, dh_next[0])            # dh_{t-1} = da_t @ W_h.T


@numba.njit(**JIT)
def _forward_rows(gemm, vec, x, W_x, W_h, bias, x_tm, xw, hs, cs, gates, tanh_c, h_seq, a, bounds, k, one, zero):
    """A layer's whole forward pass for batch rows r0:r1 = bounds[k]:bounds[k + 1], in one compiled call.

    x: (B, T, D) batch-first input; W_x (D, 4H), W_h (H, 4H), bias (4H,). Fills, for rows r0:r1:
    x_tm (T, B, D), the cache's time-major copy of x; xw (B, T, 4H) workspace, x_t @ W_x for every
    step as ONE product of the rows' (n T, D) block; then per step one product
    a[r0:r1] = h_{t-1} @ W_h (a: (B, 4H) workspace) and the gate pass, writing hs, cs (T+1, B, H),
    gates (T, B, 4H) and tanh_c (T, B, H) as ``lstm_forward``, and the batch-first output h_seq (B, T, H)
    (written as each h_t is made: no separate transposing pass). Products are NumPy's own cblas gemm
    (``blas``), the per-step one ``simd._product`` when ``vec``. Rows are independent through time: threads
    may run disjoint row ranges at once.
    Without a cache (``lstm_infer``) x_tm, gates and tanh_c have a leading size of 1 instead of T: x_tm is not
    filled and every step's gates and tanh(C_t) go to their one slice.
    x, W_x, W_h, xw, hs and a are C-contiguous."""
    T, r0, r1 = x.shape[1], bounds[k], bounds[k + 1]
    keep = gates.shape[0] == T
    rows.project_rows(gemm, x, W_x, x_tm, xw, keep, r0, r1, one, zero)              # x_t @ W_x, all t
    for t in range(T):
        rows.step_product(gemm, vec, hs, t, W_h, a, r0, r1, one, zero)              # h_{t-1} @ W_h
        tk = t if keep else 0
        for r in range(r0, r1):
            _gates_forward_row(a[r], xw[r, t], bias, cs[t, r], gates[tk, r], cs[t + 1, r], hs[t + 1, r], tanh_c[tk, r])
            rows.copy_row(h_seq[r, t], hs[t + 1, r])


@numba.njit(**JIT)
def _backward_rows(gemm, vec, dh_tm, has_seq, dh_next, dc_next, gates, cs, tanh_c, hs, x_tm, W_x, W_h, W_hT, da, dh,
                   x_bf, h_bf, dx, dW_xs, dW_hs, dbs, bounds, k, one, zero):
    """A layer's whole BPTT for batch rows r0:r1 = bounds[k]:bounds[k + 1], in one compiled call.

    Per step (from the last) the gate pass, then one product dh_{t-1}[r0:r1] = da_t @ W_h^T; then
    the rows' share of every weight gradient as ONE product each over all their steps, and their dx.
    dh_tm: (T, B, H) gradient from above (read when has_seq); dh_next, dc_next (B, H) carry dh and dC
    (updated in place after each row's pass); gates, cs, tanh_c, hs, x_tm:
    the forward's cache; W_x (D, 4H); W_h (H, 4H); W_hT (4H, H) its transpose, read only when not ``vec``
    (when ``vec`` the per-step product is ``simd._product_nt`` with W_h itself, else a gemm with W_hT). Workspaces:
    da (B, T, 4H), dh (B, H), x_bf (B, T, D), h_bf (B, T, H) (batch-first copies of x_t and h_{t-1}, so a row
    range is one (n T, .) block).
    Out: dx (B, T, D) rows r0:r1; dW_xs[k] (D, 4H), dW_hs[k] (H, 4H), dbs[k] (4H,) this range's sums (overwritten).
    da, dh_next, W_x, W_h, W_hT, x_bf, h_bf, dx, dW_xs, dW_hs C-contiguous."""
    T, H, r0, r1 = gates.shape[0], cs.shape[2], bounds[k], bounds[k + 1]
    dW_x, dW_h, db = dW_xs[k], dW_hs[k], dbs[k]
    db[:] = 0
    dc_prev = np.empty(H, dtype=da.dtype)     # not dc_next[r] itself: an output that overlaps an input makes LLVM
    for t in range(T - 1, -1, -1):            # fall back to its scalar loop (measured: 8 -> 3 ns per cell)
        for r in range(r0, r1):
            if has_seq:
                for j in range(H):
                    dh[r, j] = dh_next[r, j] + dh_tm[t, r, j]       # from above + carried from t+1
                dh_r = dh[r]
            else:
                dh_r = dh_next[r]
            _gates_backward_row(dh_r, dc_next[r], gates[t, r], cs[t, r], tanh_c[t, r], da[r, t], dc_prev, db, one)
            rows.copy_row(dc_next[r], dc_prev)                       # dC_{t-1} carried to the next step down
        rows.step_product_t(gemm, vec, da, t, W_h, W_hT, dh_next, r0, r1, one, zero)  # dh_{t-1} = da_t @ W_h^T
    rows.weight_products(gemm, x_tm, hs, da, da, W_x, x_bf, h_bf, dx, dW_x, dW_h, r0, r1, one, zero)


def lstm_forward(x, h0, c0, params):
    """Same contract as ``minilstm.core.lstm_forward``: x (B, T, D), h0, c0 (B, H) ->
    (h_seq (B, T, H), (h_T, c_T), cache)."""
    return _forward(x, h0, c0, params, keep_cache=True)


def lstm_infer(x, h0, c0, params):
    """``lstm_forward`` for inference: the same h_seq and final states (bitwise), and None for the cache. The
    per-step gates, tanh(C_t), the time-major x and the state sequences are not kept: with NumPy's gemm they
    go to per-thread scratch arrays, so a call takes no fresh memory beyond its outputs (in a process with
    glibc's default malloc thresholds, fresh cache arrays cost page faults on every call)."""
    return _forward(x, h0, c0, params, keep_cache=False)


def _forward(x, h0, c0, params, keep_cache):
    B, T, D, H = check_sequence_inputs(x, {"h0": h0, "c0": c0}, params, "lstm")
    check_host_arrays(x, "x")
    dt = x.dtype
    W_x, W_h, b = (np.ascontiguousarray(params[k]) for k in ("W_x", "W_h", "b"))
    gemm = blas._gemm(dt)
    if gemm is not None:                                              # the compiled layer, rows over threads
        if keep_cache:
            hs, cs, gates, tanh_c = sequence_buffers(*initial_states(x, params, h0, c0), T, dt)
            x_tm = np.empty((T, B, D), dtype=dt)
        else:                                         # no cache: one step's gates and tanh(C_t), no x_tm
            hs, cs = scratch("hs", (T + 1, B, H), dt), scratch("cs", (T + 1, B, H), dt)
            hs[0], cs[0] = (0 if s is None else s for s in (h0, c0))
            gates, tanh_c = scratch("gates", (1, B, 4 * H), dt), scratch("tanh_c", (1, B, H), dt)
            x_tm = scratch("x_tm", (1, B, D), dt)
        nt, vec = threads.loop_threads(B), B <= simd.VECTOR_STEP_MAX_ROWS
        x = np.ascontiguousarray(x)
        a, xw = scratch("a", (B, 4 * H), dt), scratch("gate_rows", (B, T, 4 * H), dt)       # workspaces
        h_seq = np.empty((B, T, H), dt)
        args = (gemm, vec, x, W_x, W_h, b, x_tm, xw, hs, cs, gates, tanh_c, h_seq, a)
        if keep_cache:                                # a first training step: its backward compiles alongside
            compile_ahead.start((_backward_rows,), f"{__name__}:compile_backward", dt.name, B, D, H)
        rows.run_rows(_forward_rows, rows.forward_ranges, args, (), B, H, 4, nt, vec, dt)
        if not keep_cache:
            return h_seq, (hs[-1].copy(), cs[-1].copy()), None
        return h_seq, (hs[-1].copy(), cs[-1].copy()), dict(zip(CACHE_KEYS, (x_tm, hs, cs, gates, tanh_c, params)))
    hs, cs, gates, tanh_c = sequence_buffers(*initial_states(x, params, h0, c0), T, dt)
    a = np.empty((B, 4 * H), dtype=dt)                                # workspace, reused every step
    x_tm, xw = project_inputs(x, W_x)                 # one product for all steps; b is added in the gate pass
    if B == 1:
        _forward_loop_b1(xw, W_h, b, hs, cs, gates, tanh_c, a)
    else:                                               # NumPy's gemm not reachable: the loop in Python
        with threads.step_blas_threads(B, H):
            for t in range(T):
                np.matmul(hs[t], W_h, out=a)                          # h_{t-1} @ W_h
                _gates_forward_step(a, xw[t], b, cs[t], gates[t], cs[t + 1], hs[t + 1], tanh_c[t])
    h_seq, finals, cache = sequence_outputs(x_tm, hs, cs, gates, tanh_c, params)
    return h_seq, finals, cache if keep_cache else None


def compile_backward(dtype, B, D, H):
    """``compile_ahead``'s helper: one backward on zeros of B rows, D inputs, H units and two steps (strings
    allowed), which compiles and caches what the first real backward at those sizes calls."""
    B, D, H, T = int(B), int(D), int(H), 2
    z = lambda *shape: np.zeros(shape, dtype)                 # noqa: E731
    cache = {"x_tm": z(T, B, D), "hs": z(T + 1, B, H), "cs": z(T + 1, B, H), "gates": z(T, B, 4 * H),
             "tanh_c": z(T, B, H), "params": {"W_x": z(D, 4 * H), "W_h": z(H, 4 * H), "b": z(4 * H)}}
    lstm_backward(z(B, T, H), z(B, H), z(B, H), cache)


def lstm_backward(dh_seq, dh_T, dc_T, cache):
    """Same contract as ``minilstm.core.lstm_backward``: returns (dx, dh0, dc0, dparams)."""
    T, B, D, H = check_sequence_backward_args(dh_seq, {"dh_T": dh_T, "dc_T": dc_T}, cache, "lstm")
    check_host_arrays(cache["x_tm"], "cache['x_tm']", dh_seq=dh_seq, dh_T=dh_T, dc_T=dc_T)
    x_tm, hs, cs, gates, tanh_c, params = (cache[k] for k in CACHE_KEYS)
    x_tm, hs, cs, gates, tanh_c = (np.ascontiguousarray(a) for a in (x_tm, hs, cs, gates, tanh_c))  # raw reads below
    dt = x_tm.dtype
    W_x, W_h = contiguous_weights(params, dt)                          # compiled code reads raw memory
    dh_next, dc_next = carried_gradients(dh_T, dc_T, like=hs[0])
    dh_tm = None if dh_seq is None else dh_seq.transpose(1, 0, 2)
    one = dt.type(1)
    gemm, vec = blas._gemm(dt), B <= simd.VECTOR_STEP_MAX_ROWS
    W_hT = rows.backward_weights(W_h, gemm, vec)                      # W_h itself for simd, else W_h.T
    if gemm is not None:                                              # the compiled layer, rows over threads
        nt = threads.loop_threads(B)
        G = 4 * H
        # workspaces; da takes the buffer the forward's xw had (one (B, T, 4H) array per thread, not two)
        da, dh = scratch("gate_rows", (B, T, G), dt), scratch("dh", (B, H), dt)
        x_bf, h_bf = scratch("x_bf", (B, T, D), dt), scratch("h_bf", (B, T, H), dt)
        dx = np.empty((B, T, D), dtype=dt)
        dW_xs, dW_hs, dbs = np.empty((nt, D, G), dt), np.empty((nt, H, G), dt), np.empty((nt, G), dt)
        # dh_tm is a transposed view (Numba's 'A' layout); the top layer's unread stand-in gets that layout too,
        # so one compiled specialization serves every layer (a 'C' stand-in cost a second compile of the layer)
        seq = dh_tm if dh_tm is not None else np.zeros((4, 1, 1), dt)[::2]         # strided: not contiguous
        args = (gemm, vec, seq, dh_tm is not None, dh_next, dc_next, gates, cs, tanh_c, hs, x_tm,
                W_x, W_h, W_hT, da, dh, x_bf, h_bf, dx)
        compile_ahead.wait()                          # the helper's backward, when one is compiling it
        rows.run_rows(_backward_rows, rows.backward_ranges, args, (dW_xs, dW_hs, dbs), B, H, 4, nt, vec, dt)
        if nt == 1:
            dparams = {"W_x": dW_xs[0], "W_h": dW_hs[0], "b": dbs[0]}
        else:
            dparams = {"W_x": rows.sum_ranges(dW_xs), "W_h": rows.sum_ranges(dW_hs), "b": rows.sum_ranges(dbs)}
        return dx, dh_next, dc_next, dparams
    da, dh = np.empty((T, B, 4 * H), dtype=dt), np.empty((B, H), dtype=dt)
    db = np.zeros(4 * H, dtype=dt)                                     # filled by the gate pass
    dc_prev = np.empty((B, H), dtype=dt)
    if B == 1:
        seq = np.ascontiguousarray(dh_tm, dtype=dt) if dh_tm is not None else np.zeros((1, 1, 1), dt)
        _backward_loop_b1(seq, dh_tm is not None, dh_next, dc_next, gates, cs, tanh_c, W_hT, da, dh, dc_prev, db,
                          one)
    else:                                                              # NumPy's gemm not reachable: Python loop
        with threads.step_blas_threads(B, H):
            for t in range(T - 1, -1, -1):
                if dh_tm is None:
                    dh, dh_next = dh_next, dh
                else:
                    np.add(dh_tm[t], dh_next, out=dh)                  # from above + carried from t+1
                _gates_backward_step(dh, dc_next, gates[t], cs[t], tanh_c[t], da[t], dc_prev, db, one)
                dc_next, dc_prev = dc_prev, dc_next
                np.matmul(da[t], W_hT, out=dh_next)                    # dh_{t-1} = da_t @ W_h.T
    dx, dparams = weights_backward(da, x_tm, hs, W_x)                  # all steps at once, as in core
    dparams["b"] = db                                                  # as the gate pass summed it
    return dx, dh_next, dc_next, dparams
