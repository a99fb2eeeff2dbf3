"""NumPy's own BLAS, callable from compiled code, and its thread count.

Why. A time step is one small matrix product (h_{t-1} @ W_h, or da_t @ W_h^T) and one
pass over the gates. Issued from Python, every step pays a NumPy call and a Numba
dispatch (together about as long as the product itself at 32 x 64 by 64 x 256), and
a two-thread BLAS wakes and synchronises its threads for each small product. Here
the whole time loop is one compiled call that calls the same ``cblas_?gemm`` NumPy
calls (found through threadpoolctl, so the results are NumPy's to the bit).

``_gemm(dtype)`` is the ctypes function for float32/float64, or None when NumPy's BLAS
does not export a CBLAS gemm that can be found (the kernels then loop in Python); private,
since the function it hands out takes raw addresses. ``blas_threads``, ``get_threads`` and
``set_threads`` read and set NumPy's BLAS thread count through OpenBLAS's own functions; the
policy that uses them (how many threads a loop gets, when BLAS is held at one) is ``threads``.
"""
import ctypes
import os
import threading

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

_STATE = {}
_LOCK = threading.Lock()


def _blas_info():
    """threadpoolctl's record of the BLAS NumPy links (filepath, internal_api, ...); None when there is none.

    Other libraries may have loaded BLAS libraries of their own (SciPy's OpenBLAS, PyTorch's MKL): the one
    shipped inside NumPy's folder is NumPy's; else, the only one loaded; else the first."""
    try:
        import numpy.linalg  # noqa: F401  (loads the BLAS)
        from threadpoolctl import threadpool_info
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:
        return None
    if not infos:
        return None
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    mine = [i for i in infos if os.path.abspath(i.get("filepath", "")).startswith(
        (os.path.join(site, "numpy.libs") + os.sep, os.path.dirname(os.path.abspath(np.__file__)) + os.sep))]
    return (mine or infos)[0]


def _load():
    """Find cblas_sgemm/dgemm and the thread-count functions in NumPy's BLAS (once per process)."""
    with _LOCK:
        if _STATE:
            return _STATE
        _STATE.update(gemm={}, get_threads=None, set_threads=None)
        info = _blas_info()
        if info is None or os.environ.get("MINILSTM_NO_BLAS_LOOP"):
            return _STATE
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            return _STATE
        for prefix in ("scipy_", ""):                    # NumPy's wheels prefix OpenBLAS's symbols with scipy_
            for suffix, itype in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
                for ch, ftype, dt in (("s", ctypes.c_float, np.float32), ("d", ctypes.c_double, np.float64)):
                    fn = getattr(lib, f"{prefix}cblas_{ch}gemm{suffix}", None)
                    if fn is not None and np.dtype(dt) not in _STATE["gemm"]:
                        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, itype, itype, itype, ftype,
                                       ctypes.c_void_p, itype, ctypes.c_void_p, itype, ftype, ctypes.c_void_p, itype]
                        fn.restype = None
                        _STATE["gemm"][np.dtype(dt)] = fn
                if _STATE["gemm"] and _STATE["get_threads"] is None and info.get("internal_api") == "openblas":
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                        _STATE["get_threads"], _STATE["set_threads"] = get, put
            if _STATE["gemm"]:
                break
        return _STATE


def _gemm(dtype):
    """The CBLAS gemm (ctypes function) of NumPy's BLAS for ``dtype``, or None."""
    return _load()["gemm"].get(np.dtype(dtype))


def blas_threads():
    """How many threads NumPy's BLAS may use now (a threadpoolctl limit, e.g. in parallel fits, lowers it)."""
    get = _load()["get_threads"]
    return max(1, int(get())) if get is not None else 1


def can_set_threads():
    """True when this module can read and set NumPy's BLAS thread count (OpenBLAS)."""
    return _load()["set_threads"] is not None


def get_threads():
    """NumPy's BLAS thread count read through OpenBLAS's own function, or None when it was not found."""
    get = _load()["get_threads"]
    return None if get is None else int(get())


def set_threads(n):
    """Set NumPy's BLAS thread count through OpenBLAS's own function (only when ``can_set_threads()``)."""
    _load()["set_threads"](n)
