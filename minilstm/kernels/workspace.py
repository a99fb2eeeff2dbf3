"""The kernels' per-thread workspace: scratch arrays kept from call to call, one set per thread.

A layer call's scratch arrays (x_t @ W_x for all steps, the per-step product, da, the batch-first
copies, W_h.T) never leave the call, so each thread keeps them from call to call instead of allocating them
anew. With glibc's default malloc thresholds a fresh array over 128 KiB is new memory from the
kernel every call, and touching it costs page faults (measured at 32,20,10,64,2 in a default
process, 4 processes each: training step 4.25 -> 3.27 ms). The forward's cache (hs, cs, gates,
tanh_c) and every returned array are still new each call: callers keep them. Arrays larger than
SCRATCH_MAX_BYTES are not kept (their page faults are small beside their products, and keeping them
would hold that much memory), and a thread keeps at most 2 * SCRATCH_MAX_BYTES in all (past that it
starts over); MINILSTM_SCRATCH_MAX_BYTES=0 keeps none.
"""
import os
import threading

import numpy as np

SCRATCH_MAX_BYTES = int(os.environ.get("MINILSTM_SCRATCH_MAX_BYTES", 1 << 24))
_SCRATCH = threading.local()


def scratch(name, shape, dtype):
    """An uninitialised array for this thread's use within one kernel call; the same one is handed out
    again for the same (name, shape, dtype). Never return it to a caller."""
    kept = getattr(_SCRATCH, "arrays", None)
    if kept is None:
        kept = _SCRATCH.arrays = {}
    key = (name, shape, np.dtype(dtype).char)
    a = kept.get(key)
    if a is None:
        a = np.empty(shape, dtype=dtype)
        if a.nbytes <= SCRATCH_MAX_BYTES:
            if a.nbytes + sum(k.nbytes for k in kept.values()) > 2 * SCRATCH_MAX_BYTES:
                kept.clear()                          # many shapes seen: start over rather than grow
            kept[key] = a
    return a
