"""First-use self-test of the fused CUDA kernels (``minilstm.kernels.cuda``) against the reference.

The fused kernels compile with nvcc, but no GPU path of minilstm has yet run on real hardware. So the
first time a process builds an LSTM layer that would run them for a dtype, ``fused_kernels_ok`` runs
them on a few tiny random problems (milliseconds) against ``minilstm.core`` on the same device in
float64, and compares everything a layer uses: the outputs, the final states h_n and c_n, and every
gradient (dx, dh0, dc0, dW_x, dW_h, db), for a loss on every output and for one on h_n only. The
verdict is kept per dtype for the rest of the process:

* passed: the layer runs the fused kernels;
* failed (a relative difference beyond ``TOLERANCES``, or any exception, CUDA errors included): one
  ``CudaSelfTestWarning`` per dtype, naming the GPU, the CUDA and CuPy versions, the largest
  difference and how to report it, and the layer runs the reference on the GPU (``minilstm.core`` on
  CuPy arrays) instead; when ``kernels='cuda'`` was asked for by name, a ``DeviceError`` instead;
* ``MINILSTM_CUDA_SELFTEST=0`` in the environment skips the test: the fused kernels run untested.

Everything the test touches is an argument (the kernel module, the reference module, the array
module, the device description), so the tests run it on the CPU with NumPy standing in for CuPy.
"""
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import CudaSelfTestWarning, DeviceError

ENV_VAR = "MINILSTM_CUDA_SELFTEST"
# Largest relative difference (max |kernel - reference| / max |reference|, per quantity) a kernel may show.
TOLERANCES = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
# (B, T, D, H), chosen so that ``cuda.choose_path`` runs every compiled kernel in both dtypes: the persistent
# kernels with 1, 2, 4 and 8 rows per block (``cuda.ROWS``; all but the first with a last block holding one
# row: 21 = 10 * 2 + 1, 37 = 9 * 4 + 1, 129 = 16 * 8 + 1), and cuBLAS plus the fused gate kernels (H > 256).
PROBLEMS = ((3, 5, 4, 7), (21, 2, 2, 5), (37, 3, 3, 6), (129, 2, 2, 3), (2, 3, 3, 260))
REPORT = ("Please report it in minilstm's issue tracker with this whole message and, from a source checkout, the "
          f"output of `bash benchmarks/gpu_check.sh`. {ENV_VAR}=0 skips this self-test.")

_verdicts = {}     # np.dtype -> Verdict, for this process
_warned = set()    # the dtypes whose failure has been warned about


@dataclass(frozen=True)
class Verdict:
    """What the self-test found for one dtype. difference: the largest relative difference from the reference
    (inf: a result of the wrong shape; nan: a NaN where the reference has none), in ``where``; error: the exception
    the run raised ('' if none), which fails the test whatever the differences."""
    dtype: np.dtype
    device: str
    tolerance: float
    difference: float = 0.0
    where: str = ""
    error: str = ""

    @property
    def passed(self):
        return not self.error and self.difference <= self.tolerance     # False for nan


def selftest_enabled(environ=None):
    """False when ``MINILSTM_CUDA_SELFTEST`` is 0 (or false, no, off) in ``environ`` (default: os.environ)."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "1")
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def random_problem(rng, B, T, D, H, dtype):
    """One layer's inputs on the host in ``dtype``: x (B, T, D), h0, c0 (B, H); W_x (D, 4H), W_h (H, 4H), b (4H,) at
    PyTorch's initial scale U(-1/sqrt(H), 1/sqrt(H)); upstream gradients dh_seq (B, T, H), dh_T, dc_T (B, H)."""
    k = 1.0 / math.sqrt(H)
    arrays = {"x": rng.standard_normal((B, T, D)), "h0": rng.standard_normal((B, H)),
              "c0": rng.standard_normal((B, H)), "W_x": rng.uniform(-k, k, (D, 4 * H)),
              "W_h": rng.uniform(-k, k, (H, 4 * H)), "b": rng.uniform(-k, k, 4 * H),
              "dh_seq": rng.standard_normal((B, T, H)), "dh_T": rng.standard_normal((B, H)),
              "dc_T": rng.standard_normal((B, H))}
    return {name: a.astype(dtype) for name, a in arrays.items()}


def lstm_results(impl, problem, xp, dtype):
    """``impl.lstm_forward`` and two ``impl.lstm_backward`` calls on ``problem`` (see ``random_problem``) moved to
    ``xp`` in ``dtype``. Returns {name: array}: out (B, T, H), h_n, c_n (B, H), and for a loss on every output and
    state (dh_seq, dh_T, dc_T), then on h_n only (None, dh_T, None): dx (B, T, D), dh0, dc0 (B, H), dW_x (D, 4H),
    dW_h (H, 4H), db (4H,), the second set named '... (loss on h_n only)'."""
    a = {name: xp.asarray(v, dtype=dtype) for name, v in problem.items()}
    params = {k: a[k] for k in ("W_x", "W_h", "b")}
    out, (h_n, c_n), cache = impl.lstm_forward(a["x"], a["h0"], a["c0"], params)
    results = {"out": out, "h_n": h_n, "c_n": c_n}
    losses = (("", (a["dh_seq"], a["dh_T"], a["dc_T"])), (" (loss on h_n only)", (None, a["dh_T"], None)))
    for label, upstream in losses:
        dx, dh0, dc0, dparams = impl.lstm_backward(*upstream, cache)
        results.update({f"dx{label}": dx, f"dh0{label}": dh0, f"dc0{label}": dc0})
        results.update({f"d{k}{label}": dparams[k] for k in params})
    return results


def relative_difference(got, want, xp):
    """max |got - want| / max |want| (the absolute difference when want is all zeros), as a Python float.
    got: any shape and float dtype; want: float64. inf when the shapes differ, nan when got has a NaN."""
    if tuple(got.shape) != tuple(want.shape):
        return math.inf
    diff = float(xp.max(xp.abs(got.astype(want.dtype) - want)))     # float(): waits for the device, raises its errors
    scale = float(xp.max(xp.abs(want)))
    return diff / scale if scale > 0 else diff


def _worse(d, worst):
    """d is a worse difference than worst: larger, or the first NaN."""
    return (math.isnan(d) and not math.isnan(worst)) or d > worst


def run_selftest(kernel, reference, xp, dtype, device="the GPU", problems=PROBLEMS, seed=0):
    """Run ``kernel`` (a module with lstm_forward/lstm_backward) in ``dtype`` and ``reference`` in float64 on the same
    random ``problems`` ((B, T, D, H) each) with array module ``xp``; compare every result. Never raises: an
    exception ends the run and is recorded. Returns a ``Verdict``."""
    dtype = np.dtype(dtype)
    worst, where = 0.0, ""
    rng = np.random.default_rng(seed)
    try:
        for B, T, D, H in problems:
            problem = random_problem(rng, B, T, D, H, dtype)        # the reference reads the same rounded inputs
            want = lstm_results(reference, problem, xp, np.float64)
            got = lstm_results(kernel, problem, xp, dtype)
            for name, w in want.items():
                d = relative_difference(got[name], w, xp)
                if _worse(d, worst):
                    worst, where = d, f"{name}, B={B} T={T} D={D} H={H}"
    except Exception as e:                                        # CUDA or compile errors, results that are no arrays
        return Verdict(dtype, device, TOLERANCES[dtype], worst, where, f"{type(e).__name__}: {e}")
    return Verdict(dtype, device, TOLERANCES[dtype], worst, where)


def _cuda_version(v):
    """CUDA's integer version (12040) as '12.4'."""
    return f"{v // 1000}.{v % 1000 // 10}"


def describe_cuda_device(cp):
    """'NVIDIA H100 80GB HBM3 (device 0), CUDA runtime 12.4, driver 12.6, CuPy 13.3.0', or as much of it as CuPy
    tells; never raises."""
    parts = []
    try:
        dev = cp.cuda.Device()
        name = cp.cuda.runtime.getDeviceProperties(dev.id)["name"]
        parts.append(f"{name.decode() if isinstance(name, bytes) else name} (device {dev.id})")
    except Exception:
        parts.append("an unidentified GPU")
    for label, get in (("CUDA runtime", lambda: cp.cuda.runtime.runtimeGetVersion()),
                       ("driver", lambda: cp.cuda.runtime.driverGetVersion())):
        try:
            parts.append(f"{label} {_cuda_version(int(get()))}")
        except Exception:
            parts.append(f"{label} unknown")
    parts.append(f"CuPy {getattr(cp, '__version__', 'unknown')}")
    return ", ".join(parts)


def failure_message(verdict):
    """What failed, where and on which device (no advice)."""
    if verdict.error:
        what = f"raised {verdict.error}"
    else:
        what = (f"differ from the reference by up to {verdict.difference:.3g} (relative, in {verdict.where}; "
                f"tolerance {verdict.tolerance:g})")
    return (f"minilstm's fused CUDA kernels failed their first-use self-test in {verdict.dtype} on {verdict.device}: "
            f"they {what}.")


def fused_kernels_ok(dtype, explicit=False, kernel=None, reference=None, xp=None, describe=None, environ=None):
    """Whether an LSTM layer in ``dtype`` may run the fused CUDA kernels; the first call per dtype runs the self-test.

    explicit: kernels='cuda' was asked for by name: a failed self-test raises ``DeviceError`` instead of falling back.
    Returns True (passed, or skipped by MINILSTM_CUDA_SELFTEST=0) or False (failed: run the reference on the GPU;
    the first False per dtype warns with a ``CudaSelfTestWarning``).
    The arguments after ``explicit`` default to the real thing: ``kernels.cuda``, ``core``, CuPy and
    ``describe_cuda_device``; the tests replace them.
    """
    dtype = np.dtype(dtype)
    if not selftest_enabled(environ):
        return True
    verdict = _verdicts.get(dtype)
    if verdict is None:
        verdict = _verdicts[dtype] = _selftest_with_defaults(dtype, kernel, reference, xp, describe)
    if verdict.passed:
        return True
    if explicit:
        raise DeviceError(f"{failure_message(verdict)} kernels='cuda' was asked for by name, so minilstm does not "
                          "fall back: use kernels='auto' (then the reference on the GPU, with a warning) or "
                          f"kernels='numpy' (the reference). {REPORT}")
    if dtype not in _warned:
        _warned.add(dtype)
        warnings.warn(f"{failure_message(verdict)} LSTM layers in {dtype} run the reference (minilstm.core on CuPy) "
                      f"on the GPU instead for the rest of this process (slower). {REPORT}",
                      CudaSelfTestWarning, stacklevel=3)
    return False


def _selftest_with_defaults(dtype, kernel, reference, xp, describe):
    """``run_selftest`` with the real kernels, reference, CuPy and device description where an argument is None."""
    if kernel is None:
        from . import cuda as kernel
    if reference is None:
        from ..core import lstm as reference
    if xp is None:
        from ..backend import xp_for
        xp = xp_for("cuda")
    try:
        device = describe() if describe is not None else describe_cuda_device(xp)
    except Exception:
        device = "an unidentified GPU"
    return run_selftest(kernel, reference, xp, dtype, device)


def forget_verdicts():
    """Forget every dtype's verdict and warning, so the next layer runs the self-test again (for tests)."""
    _verdicts.clear()
    _warned.clear()
