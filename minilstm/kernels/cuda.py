"""Fused CUDA kernels (CuPy): the same ``lstm_forward``/``lstm_backward`` as ``minilstm.core``.

At the sizes people train an LSTM at, a GPU spends its time launching kernels, not
computing: the reference issues per step one cuBLAS product plus a dozen elementwise
kernels. Two paths here, chosen per layer by ``choose_path``:

* ``"persistent"`` (small and mid hidden sizes): ONE launch per layer loops over all time
  steps. Each thread block owns R batch rows and each thread one hidden unit j; h_{t-1}
  of its rows sits in shared memory. Per step a thread computes the four gate
  pre-activations of unit j for its R rows (reading column j of W_h once and using it R
  times), applies the gates, writes C_t and h_t, and the block synchronises. The backward
  is the mirror image: per step the gate derivatives of the block's rows go to shared
  memory and each thread forms its carried dh from column j of W_h^T. Launch count per
  layer: 1 (forward) and 1 (backward) instead of ~13 T.
* ``"cublas"`` (large hidden sizes, where every block re-reading W_h would cost more than
  it saves): per step one cuBLAS product ``h_{t-1} @ W_h`` and ONE fused elementwise
  kernel for the gates (and the mirror image for BPTT).

In both, the input projection of all steps before the loop, and the weight gradients
after it, are single cuBLAS products over all time steps, as in the reference.
The kernels use the equation names; the file reads top to bottom like ``core.py``.
"""
import math

import numpy as np

from ..core.common import carried_gradients, initial_states
from ..core.lstm import CACHE_KEYS, sequence_buffers, sequence_outputs, weights_backward
from ..errors import DeviceError, InputTypeError, ShapeError
from ..validate import check_same_module, check_sequence_backward_args, check_sequence_inputs
from .contract import check_kernel_dtype, contiguous_weights, project_inputs

try:
    import cupy as cp
except ImportError:  # importable without CuPy so that the source can be compiled and inspected
    cp = None

CUDA_SOURCE = r"""
// Stable logistic function: z = exp(-|x|) never overflows.
template <typename T> __device__ __forceinline__ T sigm(T x) {
    T z = exp(-fabs(x));
    return (x >= T(0) ? T(1) : z) / (T(1) + z);
}

// ---- cuBLAS path: one fused elementwise kernel per step --------------------------------
// a = h_{t-1} @ W_h (B, 4H); xw = x_t @ W_x (B, 4H); bias b (4H,); c_prev (B, H)
// out: gates (B, 4H) = [f, i, c~, o]; c_t, h_t, tanh_c (B, H)
template <typename T>
__global__ void gates_forward_step(const T* __restrict__ a, const T* __restrict__ xw,
                                   const T* __restrict__ bias, const T* __restrict__ c_prev, T* __restrict__ gates,
                                   T* __restrict__ c_t, T* __restrict__ h_t, T* __restrict__ tanh_c,
                                   int B, int H) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int b = idx / H, j = idx % H;
    const T* ab = a + (size_t)b * 4 * H;
    const T* xb = xw + (size_t)b * 4 * H;
    T* g = gates + (size_t)b * 4 * H;
    T f_t = sigm(ab[j] + xb[j] + bias[j]);                           // forget gate
    T i_t = sigm(ab[H + j] + xb[H + j] + bias[H + j]);               // input gate
    T c_tilde = tanh(ab[2 * H + j] + xb[2 * H + j] + bias[2 * H + j]);  // candidate cell state
    T o_t = sigm(ab[3 * H + j] + xb[3 * H + j] + bias[3 * H + j]);   // output gate
    T C = f_t * c_prev[idx] + i_t * c_tilde;           // C_t = f_t * C_{t-1} + i_t * c~_t
    T th = tanh(C);
    g[j] = f_t; g[H + j] = i_t; g[2 * H + j] = c_tilde; g[3 * H + j] = o_t;
    c_t[idx] = C; tanh_c[idx] = th;
    h_t[idx] = o_t * th;                               // h_t = o_t * tanh(C_t)
}

// dh (B, H) total gradient on h_t; dc_next (B, H) carried dC_t; gates (B, 4H); c_prev, tanh_c (B, H)
// out: da (B, 4H) gradient of the pre-activations; dc_prev (B, H)
template <typename T>
__global__ void gates_backward_step(const T* __restrict__ dh, const T* __restrict__ dc_next,
                                    const T* __restrict__ gates, const T* __restrict__ c_prev,
                                    const T* __restrict__ tanh_c, T* __restrict__ da,
                                    T* __restrict__ dc_prev, int B, int H) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int b = idx / H, j = idx % H;
    const T* g = gates + (size_t)b * 4 * H;
    T* d = da + (size_t)b * 4 * H;
    T f_t = g[j], i_t = g[H + j], c_tilde = g[2 * H + j], o_t = g[3 * H + j], th = tanh_c[idx];
    T dhv = dh[idx];
    T dC = dc_next[idx] + dhv * o_t * (T(1) - th * th);         // carried dC + path through h_t
    d[j] = dC * c_prev[idx] * f_t * (T(1) - f_t);                // da_f
    d[H + j] = dC * c_tilde * i_t * (T(1) - i_t);                // da_i
    d[2 * H + j] = dC * i_t * (T(1) - c_tilde * c_tilde);        // da_c~
    d[3 * H + j] = dhv * th * o_t * (T(1) - o_t);                // da_o
    dc_prev[idx] = dC * f_t;                                     // dC_{t-1}
}

// ---- persistent path: one launch per layer loops over time -------------------------------
// grid: ceil(B / R) blocks, block: H threads (thread j = hidden unit j), shared: R * H values.
// xw (T, B, 4H) = x_t @ W_x; W_h (H, 4H); bias (4H,); hs, cs (T+1, B, H) with hs[0], cs[0] = h0, c0 on entry;
// out: hs[1..T], cs[1..T], gates (T, B, 4H), tanh_c (T, B, H)
template <typename T, int R>
__global__ void lstm_forward_persistent(const T* __restrict__ xw, const T* __restrict__ W_h,
                                        const T* __restrict__ bias, T* __restrict__ hs, T* __restrict__ cs,
                                        T* __restrict__ gates,
                                        T* __restrict__ tanh_c, int Tn, int B, int H) {
    extern __shared__ unsigned char smem_raw[];
    T* h_sh = reinterpret_cast<T*>(smem_raw);          // h_{t-1} of the block's R rows
    const int j = threadIdx.x, b0 = blockIdx.x * R, H4 = 4 * H;
    const T b_f = bias[j], b_i = bias[H + j], b_g = bias[2 * H + j], b_o = bias[3 * H + j];
    T c[R];
    #pragma unroll
    for (int r = 0; r < R; ++r) {
        int b = b0 + r;
        h_sh[r * H + j] = b < B ? hs[(size_t)b * H + j] : T(0);
        c[r] = b < B ? cs[(size_t)b * H + j] : T(0);
    }
    __syncthreads();
    for (int t = 0; t < Tn; ++t) {
        T acc[R][4];
        #pragma unroll
        for (int r = 0; r < R; ++r) { acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = T(0); }
        for (int k = 0; k < H; ++k) {                  // (h_{t-1} @ W_h)[:, gate*H + j]
            const T* w = W_h + (size_t)k * H4;
            T w_f = w[j], w_i = w[H + j], w_g = w[2 * H + j], w_o = w[3 * H + j];
            #pragma unroll
            for (int r = 0; r < R; ++r) {
                T hk = h_sh[r * H + k];
                acc[r][0] += hk * w_f; acc[r][1] += hk * w_i; acc[r][2] += hk * w_g; acc[r][3] += hk * w_o;
            }
        }
        __syncthreads();                               // every thread has read h_{t-1}
        #pragma unroll
        for (int r = 0; r < R; ++r) {
            int b = b0 + r;
            if (b >= B) continue;
            size_t gbase = ((size_t)t * B + b) * H4, sbase = ((size_t)t * B + b) * H;
            const T* xb = xw + gbase;
            T f_t = sigm(acc[r][0] + xb[j] + b_f);
            T i_t = sigm(acc[r][1] + xb[H + j] + b_i);
            T c_tilde = tanh(acc[r][2] + xb[2 * H + j] + b_g);
            T o_t = sigm(acc[r][3] + xb[3 * H + j] + b_o);
            T C = f_t * c[r] + i_t * c_tilde;          // C_t = f_t * C_{t-1} + i_t * c~_t
            T th = tanh(C);
            T h = o_t * th;                            // h_t = o_t * tanh(C_t)
            c[r] = C;
            gates[gbase + j] = f_t; gates[gbase + H + j] = i_t;
            gates[gbase + 2 * H + j] = c_tilde; gates[gbase + 3 * H + j] = o_t;
            tanh_c[sbase + j] = th;
            hs[sbase + (size_t)B * H + j] = h;         // hs[t + 1]
            cs[sbase + (size_t)B * H + j] = C;         // cs[t + 1]
            h_sh[r * H + j] = h;
        }
        __syncthreads();                               // h_t complete before the next step reads it
    }
}

// grid: ceil(B / R) blocks, block: H threads, shared: R * 4H values (the rows' da_t).
// dh_seq (T, B, H) time-major gradient on the outputs (ignored unless has_seq);
// dh_next, dc_next (B, H): in dh_T, dc_T; out dh0, dc0. gates (T, B, 4H); cs (T+1, B, H);
// tanh_c (T, B, H); W_hT (4H, H) = W_h transposed, contiguous; out: da (T, B, 4H)
template <typename T, int R>
__global__ void lstm_backward_persistent(const T* __restrict__ dh_seq, int has_seq, T* __restrict__ dh_next,
                                         T* __restrict__ dc_next, const T* __restrict__ gates,
                                         const T* __restrict__ cs, const T* __restrict__ tanh_c,
                                         const T* __restrict__ W_hT, T* __restrict__ da, int Tn, int B, int H) {
    extern __shared__ unsigned char smem_raw[];
    T* da_sh = reinterpret_cast<T*>(smem_raw);
    const int j = threadIdx.x, b0 = blockIdx.x * R, H4 = 4 * H;
    T dh_carry[R], dc[R];
    #pragma unroll
    for (int r = 0; r < R; ++r) {
        int b = b0 + r;
        dh_carry[r] = b < B ? dh_next[(size_t)b * H + j] : T(0);
        dc[r] = b < B ? dc_next[(size_t)b * H + j] : T(0);
    }
    for (int t = Tn - 1; t >= 0; --t) {
        #pragma unroll
        for (int r = 0; r < R; ++r) {
            int b = b0 + r;
            T* d_sh = da_sh + r * H4;
            if (b >= B) { d_sh[j] = d_sh[H + j] = d_sh[2 * H + j] = d_sh[3 * H + j] = T(0); continue; }
            size_t gbase = ((size_t)t * B + b) * H4, sbase = ((size_t)t * B + b) * H;
            const T* g = gates + gbase;
            T f_t = g[j], i_t = g[H + j], c_tilde = g[2 * H + j], o_t = g[3 * H + j], th = tanh_c[sbase + j];
            T dh = dh_carry[r] + (has_seq ? dh_seq[sbase + j] : T(0));   // from above + carried
            T dC = dc[r] + dh * o_t * (T(1) - th * th);
            T d_f = dC * cs[sbase + j] * f_t * (T(1) - f_t);            // cs[t] = C_{t-1}
            T d_i = dC * c_tilde * i_t * (T(1) - i_t);
            T d_g = dC * i_t * (T(1) - c_tilde * c_tilde);
            T d_o = dh * th * o_t * (T(1) - o_t);
            dc[r] = dC * f_t;                                            // dC_{t-1}
            da[gbase + j] = d_f; da[gbase + H + j] = d_i; da[gbase + 2 * H + j] = d_g; da[gbase + 3 * H + j] = d_o;
            d_sh[j] = d_f; d_sh[H + j] = d_i; d_sh[2 * H + j] = d_g; d_sh[3 * H + j] = d_o;
        }
        __syncthreads();
        T acc[R];
        #pragma unroll
        for (int r = 0; r < R; ++r) acc[r] = T(0);
        for (int m = 0; m < H4; ++m) {                 // dh_{t-1}[j] = sum_m da_t[m] W_h[j, m]
            T w = W_hT[(size_t)m * H + j];
            #pragma unroll
            for (int r = 0; r < R; ++r) acc[r] += da_sh[r * H4 + m] * w;
        }
        #pragma unroll
        for (int r = 0; r < R; ++r) dh_carry[r] = acc[r];
        __syncthreads();                               // da_sh is rewritten by the next step
    }
    #pragma unroll
    for (int r = 0; r < R; ++r) {
        int b = b0 + r;
        if (b < B) { dh_next[(size_t)b * H + j] = dh_carry[r]; dc_next[(size_t)b * H + j] = dc[r]; }
    }
}
"""

ROWS = (1, 2, 4, 8)          # batch rows per block of the persistent kernels (template instances)
_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
SHARED_LIMIT = 48 * 1024     # default dynamic shared memory per block
MAX_THREADS = 1024
FORCE_PATH = None            # tests set "persistent" or "cublas" to exercise one path


def kernel_names():
    """Every template instance the module compiles."""
    names = []
    for t in _TYPES.values():
        names += [f"gates_forward_step<{t}>", f"gates_backward_step<{t}>"]
        names += [f"lstm_forward_persistent<{t},{r}>" for r in ROWS]
        names += [f"lstm_backward_persistent<{t},{r}>" for r in ROWS]
    return names


def explicit_instantiations():
    """C++ explicit instantiations of every kernel, for compiling CUDA_SOURCE offline with nvcc."""
    out = []
    for t in _TYPES.values():
        p = f"const {t}*"
        out.append(f"template __global__ void gates_forward_step<{t}>({p}, {p}, {p}, {p}, {t}*, {t}*, {t}*, {t}*, int, "
                   "int);")
        out.append(f"template __global__ void gates_backward_step<{t}>({p}, {p}, {p}, {p}, {p}, {t}*, {t}*, int, int);")
        for r in ROWS:
            out.append(f"template __global__ void lstm_forward_persistent<{t},{r}>({p}, {p}, {p}, {t}*, {t}*, {t}*, "
                       f"{t}*, int, int, int);")
            out.append(f"template __global__ void lstm_backward_persistent<{t},{r}>({p}, int, {t}*, {t}*, {p}, {p}, "
                       f"{p}, {p}, {t}*, int, int, int);")
    return "\n".join(out)


_module = None


def _fn(name):
    global _module
    if cp is None:
        raise RuntimeError("CuPy is not installed: pip install 'minilstm[cuda]'")
    if _module is None:
        _module = cp.RawModule(code=CUDA_SOURCE, options=("--std=c++14",), name_expressions=kernel_names())
    return _module.get_function(name)


def choose_path(B, H, itemsize):
    """Return (path, R). Persistent when one block of H threads fits and the recurrent weights that
    all blocks re-read per step stay small (<= 32 MB, L2-resident on an H100/H200); else cuBLAS."""
    if FORCE_PATH == "cublas":
        return "cublas", 1
    R = 1 if B < 16 else 2 if B < 32 else 4 if B < 128 else 8
    while R > 1 and R * 4 * H * itemsize > SHARED_LIMIT:
        R //= 2
    fits = H <= MAX_THREADS and 4 * H * itemsize <= SHARED_LIMIT
    traffic = math.ceil(B / R) * 4 * H * H * itemsize
    if FORCE_PATH == "persistent" and fits:
        return "persistent", R
    return ("persistent", R) if fits and H <= 256 and traffic <= (32 << 20) else ("cublas", 1)


def check_device_arrays(ref, ref_name, T, B, H, **others):
    """CuPy arrays of float32 or float64 whose sizes fit the kernels' 32-bit int arguments and indices."""
    if cp is None:
        raise DeviceError("the CUDA kernels need CuPy: pip install 'minilstm[cuda]', or use kernels='numba'.")
    if not isinstance(ref, cp.ndarray):
        raise InputTypeError(f"the CUDA kernels take CuPy arrays; {ref_name} is a {type(ref).__name__} (move it with "
                             "cupy.asarray, or use kernels='numba' for NumPy arrays).")
    check_kernel_dtype(ref.dtype, "cuda")
    check_same_module(others, ref_name, ref)
    if max(T + 1, B * 4 * H) >= 2 ** 31:
        raise ShapeError(f"the CUDA kernels index with 32-bit ints: T + 1 = {T + 1} and 4 * B * H = {4 * B * H} must "
                         "stay below 2**31; split the batch or the sequence.")


def _grid(n, block=256):
    return ((n + block - 1) // block,), (block,)


def lstm_forward(x, h0, c0, params):
    """Same contract as ``minilstm.core.lstm_forward`` on CuPy arrays."""
    B, T, D, H = check_sequence_inputs(x, {"h0": h0, "c0": c0}, params, "lstm")
    check_device_arrays(x, "x", T, B, H)
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    dt = x.dtype
    tname = _TYPES[np.dtype(dt)]
    x_tm, xw = project_inputs(x, W_x)                 # one product for all steps; b is added in the gate pass
    b = cp.ascontiguousarray(b)
    h0, c0 = initial_states(x, params, h0, c0)
    hs, cs, gates, tanh_c = sequence_buffers(h0, c0, T, dt)
    W_h = cp.ascontiguousarray(W_h)
    path, R = choose_path(B, H, dt.itemsize)
    if path == "persistent":
        _fn(f"lstm_forward_persistent<{tname},{R}>")(
            ((B + R - 1) // R,), (H,), (xw, W_h, b, hs, cs, gates, tanh_c, np.int32(T), np.int32(B), np.int32(H)),
            shared_mem=R * H * dt.itemsize)
    else:
        step = _fn(f"gates_forward_step<{tname}>")
        a = cp.empty((B, 4 * H), dtype=dt)
        grid, block = _grid(B * H)
        for t in range(T):
            cp.matmul(hs[t], W_h, out=a)                                  # h_{t-1} @ W_h (cuBLAS)
            step(grid, block, (a, xw[t], b, cs[t], gates[t], cs[t + 1], hs[t + 1], tanh_c[t], np.int32(B),
                               np.int32(H)))
    return sequence_outputs(x_tm, hs, cs, gates, tanh_c, params)


def lstm_backward(dh_seq, dh_T, dc_T, cache):
    """Same contract as ``minilstm.core.lstm_backward`` on CuPy arrays."""
    T, B, D, H = check_sequence_backward_args(dh_seq, {"dh_T": dh_T, "dc_T": dc_T}, cache, "lstm")
    check_device_arrays(cache["x_tm"], "cache['x_tm']", T, B, H, dh_seq=dh_seq, dh_T=dh_T, dc_T=dc_T)
    x_tm, hs, cs, gates, tanh_c, params = (cache[k] for k in CACHE_KEYS)
    hs, cs, gates, tanh_c = (cp.ascontiguousarray(a) for a in (hs, cs, gates, tanh_c))   # raw pointers below
    dt = x_tm.dtype
    W_x, W_h = contiguous_weights(params, dt)                          # the kernels read raw memory
    tname = _TYPES[np.dtype(dt)]
    dh_next, dc_next = carried_gradients(dh_T, dc_T, like=hs[0])
    dh_tm = None if dh_seq is None else cp.ascontiguousarray(dh_seq.transpose(1, 0, 2), dtype=dt)
    W_hT = cp.ascontiguousarray(W_h.T)
    da = cp.empty((T, B, 4 * H), dtype=dt)
    path, R = choose_path(B, H, dt.itemsize)
    if path == "persistent":
        seq = dh_tm if dh_tm is not None else cp.zeros((1,), dt)
        _fn(f"lstm_backward_persistent<{tname},{R}>")(
            ((B + R - 1) // R,), (H,), (seq, np.int32(dh_tm is not None), dh_next, dc_next, gates, cs, tanh_c, W_hT,
                                        da, np.int32(T), np.int32(B), np.int32(H)),
            shared_mem=R * 4 * H * dt.itemsize)
    else:
        step = _fn(f"gates_backward_step<{tname}>")
        grid, block = _grid(B * H)
        dh = cp.empty((B, H), dt)
        dc_prev = cp.empty((B, H), dt)
        for t in range(T - 1, -1, -1):
            if dh_tm is None:
                dh, dh_next = dh_next, dh
            else:
                cp.add(dh_tm[t], dh_next, out=dh)                           # from above + carried
            step(grid, block, (dh, dc_next, gates[t], cs[t], tanh_c[t], da[t], dc_prev, np.int32(B), np.int32(H)))
            dc_next, dc_prev = dc_prev, dc_next
            cp.matmul(da[t], W_hT, out=dh_next)                             # dh_{t-1} = da_t @ W_h.T
    dx, dparams = weights_backward(da, x_tm, hs, W_x)                  # all steps at once, as in core
    return dx, dh_next, dc_next, dparams
