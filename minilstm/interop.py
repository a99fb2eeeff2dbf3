"""PyTorch ``nn.LSTM`` state_dict layout <-> minilstm layout, without importing torch.

PyTorch stores, per layer k, ``weight_ih_l{k}`` (4H, D), ``weight_hh_l{k}`` (4H, H),
``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,), gate blocks in the order i, f, g, o.
minilstm stores ``l{k}.W_x`` (D, 4H), ``l{k}.W_h`` (H, 4H), ``l{k}.b`` (4H,) in the
order f, i, c~ (= g), o. So: transpose, swap the first two gate blocks, and
add PyTorch's two biases (they always appear as a sum).

Use with torch (outside the library)::

    sd = {k: torch.from_numpy(v) for k, v in to_torch_state_dict(lstm).items()}
    ref = torch.nn.LSTM(D, H, num_layers=L, batch_first=True, dtype=torch.float64)
    ref.load_state_dict(sd)
"""
import re
from collections.abc import Mapping

import numpy as np

from .backend import to_numpy
from .errors import DataError, InputTypeError, ShapeError
from .validate import check_option


def _swap_if(a, axis):
    """Swap the first two of four gate blocks along ``axis`` (f,i,g,o <-> i,f,g,o). Own inverse."""
    H = a.shape[axis] // 4
    idx = np.r_[H:2 * H, 0:H, 2 * H:4 * H]
    return np.take(a, idx, axis=axis)


def to_torch_state_dict(lstm):
    """NumPy arrays keyed exactly like ``torch.nn.LSTM(...).state_dict()`` (bias_hh is all zeros)."""
    if not all(hasattr(lstm, a) for a in ("params", "num_layers")):
        raise InputTypeError(f"to_torch_state_dict takes a minilstm.LSTM, got {type(lstm).__name__}.")
    sd = {}
    for k in range(lstm.num_layers):
        W_x, W_h, b = (to_numpy(lstm.params[f"l{k}.{n}"]) for n in ("W_x", "W_h", "b"))
        sd[f"weight_ih_l{k}"] = np.ascontiguousarray(_swap_if(W_x, 1).T)
        sd[f"weight_hh_l{k}"] = np.ascontiguousarray(_swap_if(W_h, 1).T)
        sd[f"bias_ih_l{k}"] = _swap_if(b, 0)
        sd[f"bias_hh_l{k}"] = np.zeros_like(b)
    return sd


# cell -> (torch class, gate blocks per weight); a GRU converter would add "gru": ("torch.nn.GRU", 3)
CELLS = {"lstm": ("torch.nn.LSTM", 4)}
_KINDS_BY_GATES = {4: "torch.nn.LSTM", 3: "torch.nn.GRU", 1: "torch.nn.RNN"}


def _to_numpy_tensor(key, v):
    """A torch tensor or array-like -> a real NumPy array (complex, boolean and non-numeric refused)."""
    if hasattr(v, "detach"):
        v = v.detach().cpu()
        if v.is_complex():
            raise InputTypeError(f"state_dict[{key!r}] is a complex tensor ({v.dtype}); the weights must be real "
                                 "(float32 or float64 tensors).")
        if v.is_floating_point() and str(v.dtype) not in ("torch.float32", "torch.float64"):
            v = v.double()                    # float16 / bfloat16 have no NumPy twin: widen
        v = v.numpy()
    try:
        a = np.asarray(v)
    except Exception as e:  # ragged lists, ...
        raise InputTypeError(f"state_dict[{key!r}] is not an array ({type(v).__name__}): {e}") from None
    if a.dtype.kind not in "fiu":
        raise InputTypeError(f"state_dict[{key!r}] has dtype {a.dtype}; the weights must be real numbers "
                             "(float32 or float64 tensors).")
    if not np.isfinite(a).all():
        raise DataError(f"state_dict[{key!r}] contains NaN or Inf; the model it came from diverged.")
    return a


def _layer_keys(k, bias):
    return [f"weight_ih_l{k}", f"weight_hh_l{k}"] + ([f"bias_ih_l{k}", f"bias_hh_l{k}"] if bias else [])


def _guess_kind(rows, H_cols):
    """Which torch recurrent layer has weight_hh of shape (rows, H)."""
    return _KINDS_BY_GATES.get(rows // H_cols) if H_cols and rows % H_cols == 0 else None


def check_torch_state_dict(sd, gates=4, kind="torch.nn.LSTM"):
    """Check a state_dict (key -> real NumPy array) of a unidirectional ``kind`` with ``gates`` gate blocks.

    Expects, per layer k: weight_ih_l{k} (G*H, D_k), weight_hh_l{k} (G*H, H) and, unless the
    layer was built with bias=False, bias_ih_l{k} and bias_hh_l{k} (G*H,), with D_k = H for k >= 1.
    Returns (num_layers, input_size D, hidden_size H, has_bias). Raises ShapeError naming
    missing keys, unexpected keys and every mis-shaped tensor.
    """
    names = [k for k in sd if isinstance(k, str)]
    if len(names) != len(sd):
        raise InputTypeError(f"state_dict keys must be strings, got {[k for k in sd if not isinstance(k, str)][:5]}.")
    if any(k.endswith("_reverse") or k.startswith("weight_hr_l") for k in names):
        raise ShapeError(f"this state_dict is from a bidirectional or projected (proj_size) {kind}; "
                         f"minilstm is unidirectional without projection.")
    layers = sorted({int(m.group(1)) for m in (re.fullmatch(r"weight_ih_l(\d+)", k) for k in names) if m})
    if not layers:
        prefixed = sorted({k[:-len("weight_ih_l0")] for k in names if k.endswith("weight_ih_l0")})
        hint = (f" Its keys carry a prefix {prefixed[0]!r}: pass {{k[{len(prefixed[0])}:]: v for k, v in "
                f"sd.items() if k.startswith({prefixed[0]!r})}}." if prefixed else "")
        raise ShapeError(f"state_dict has no weight_ih_l0: expected the state_dict of a {kind} (keys weight_ih_l0, "
                         f"weight_hh_l0, bias_ih_l0, bias_hh_l0, ...), got keys {names[:8]}.{hint}")
    L = layers[-1] + 1
    if L > 1024:
        raise ShapeError(f"state_dict declares layer {L - 1}; at most 1024 layers are supported.")
    bias = any(k.startswith("bias_") for k in names)
    expected = [key for k in range(L) for key in _layer_keys(k, bias)]
    missing = [k for k in expected if k not in sd]
    extra = [k for k in names if k not in expected]
    if missing or extra:
        parts = ([f"missing keys {missing[:12]}{' ...' if len(missing) > 12 else ''}"] if missing else []) + \
                ([f"unexpected keys {extra[:12]}{' ...' if len(extra) > 12 else ''}"] if extra else [])
        raise ShapeError(f"state_dict does not match a {L}-layer {kind}: {'; '.join(parts)}. Pass the "
                         f"state_dict() of the {kind} itself (not of a model that contains it).")
    w_ih = sd["weight_ih_l0"]
    if w_ih.ndim != 2 or w_ih.shape[0] < gates or w_ih.shape[0] % gates or w_ih.shape[1] < 1:
        w_hh = sd["weight_hh_l0"]
        guess = _guess_kind(*w_hh.shape) if w_hh.ndim == 2 else None
        why = f" It looks like a {guess} state_dict." if guess and guess != kind else ""
        raise ShapeError(f"weight_ih_l0 must have shape ({gates}H, D) with H, D >= 1 ({gates} gate blocks of a "
                         f"{kind}), got {w_ih.shape}.{why}")
    H, D = w_ih.shape[0] // gates, w_ih.shape[1]
    for k in range(L):
        want = {f"weight_ih_l{k}": (gates * H, D if k == 0 else H), f"weight_hh_l{k}": (gates * H, H)}
        if bias:
            want.update({f"bias_ih_l{k}": (gates * H,), f"bias_hh_l{k}": (gates * H,)})
        for key, shape in want.items():
            if sd[key].shape != shape:
                guess = _guess_kind(*sd[key].shape) if key.startswith("weight_hh") and sd[key].ndim == 2 else None
                why = f" It looks like a {guess} state_dict." if guess and guess != kind else ""
                raise ShapeError(f"{key} must have shape {shape} for a {kind} with input size {D} and hidden size "
                                 f"{H} ({gates} gate blocks), got {sd[key].shape}.{why}")
    return L, D, H, bias


def from_torch_state_dict(state_dict, dtype=np.float64, device="cpu", dropout=0.0, kernels="auto", seed=0,
                          cell="lstm"):
    """Build the equivalent ``minilstm.LSTM`` from a ``torch.nn.LSTM`` state_dict (tensors or arrays).

    Every key and shape is checked first (``check_torch_state_dict``); layers built with
    ``bias=False`` get zero biases.
    """
    from .nn import LSTM

    if not isinstance(state_dict, Mapping):
        raise InputTypeError(f"state_dict must be a dict (module.state_dict()), got {type(state_dict).__name__}.")
    check_option(cell, "cell", tuple(CELLS))
    kind, gates = CELLS[cell]
    sd = {k: _to_numpy_tensor(k, v) for k, v in state_dict.items()}
    num_layers, D, H, bias = check_torch_state_dict(sd, gates, kind)
    lstm = LSTM(D, H, num_layers=num_layers, dropout=dropout, dtype=dtype, device=device, kernels=kernels, seed=seed)
    for k in range(num_layers):
        b = sd[f"bias_ih_l{k}"] + sd[f"bias_hh_l{k}"] if bias else np.zeros(4 * H)
        for name, arr in (("W_x", _swap_if(sd[f"weight_ih_l{k}"].T, 1)), ("W_h", _swap_if(sd[f"weight_hh_l{k}"].T, 1)),
                          ("b", _swap_if(b, 0))):
            lstm.params[f"l{k}.{name}"] = lstm.xp.asarray(np.ascontiguousarray(arr), dtype=lstm.dtype)
    return lstm
