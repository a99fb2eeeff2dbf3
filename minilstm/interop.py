"""PyTorch ``nn.LSTM``/``nn.GRU`` state_dict layout <-> minilstm layout, without importing torch.

PyTorch stores, per layer k, ``weight_ih_l{k}`` (4H, D), ``weight_hh_l{k}`` (4H, H),
``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,), gate blocks in the order i, f, g, o.
minilstm stores ``l{k}.W_x`` (D, 4H), ``l{k}.W_h`` (H, 4H), ``l{k}.b`` (4H,) in the
order f, i, c~ (= g), o. So: transpose, swap the first two gate blocks, and
add PyTorch's two biases (they always appear as a sum).

A GRU has the same gate order in both (r, z, n) and the same two biases (b_hn must stay
apart from b_xn), so ``l{k}.W_x``, ``W_h``, ``b_x``, ``b_h`` are ``weight_ih_l{k}.T``,
``weight_hh_l{k}.T``, ``bias_ih_l{k}``, ``bias_hh_l{k}``. A bidirectional layer's reverse
direction is ``l{k}_reverse.*`` here and ``*_l{k}_reverse`` in PyTorch.

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


def _layer_to_torch(cell, params):
    """One layer and direction, minilstm -> torch: {weight_ih, weight_hh, bias_ih, bias_hh} as NumPy arrays."""
    if cell == "gru":           # same gate order r, z, n and the same two biases: transpose only
        return {"weight_ih": params["W_x"].T, "weight_hh": params["W_h"].T, "bias_ih": params["b_x"],
                "bias_hh": params["b_h"]}
    return {"weight_ih": _swap_if(params["W_x"], 1).T, "weight_hh": _swap_if(params["W_h"], 1).T,
            "bias_ih": _swap_if(params["b"], 0), "bias_hh": np.zeros_like(params["b"])}


def _layer_from_torch(cell, sd, key, bias, G, H):
    """One layer and direction, torch -> minilstm; ``key(name)`` gives the torch key of weight_ih, ... ."""
    zeros = np.zeros(G * H)
    b_ih, b_hh = (sd[key(n)] if bias else zeros for n in ("bias_ih", "bias_hh"))
    if cell == "gru":
        return {"W_x": sd[key("weight_ih")].T, "W_h": sd[key("weight_hh")].T, "b_x": b_ih, "b_h": b_hh}
    return {"W_x": _swap_if(sd[key("weight_ih")].T, 1), "W_h": _swap_if(sd[key("weight_hh")].T, 1),
            "b": _swap_if(b_ih + b_hh, 0)}     # torch's two LSTM biases always appear as a sum


def to_torch_state_dict(layer):
    """NumPy arrays keyed exactly like ``torch.nn.LSTM``/``GRU(...).state_dict()`` for a ``minilstm.LSTM`` or
    ``GRU`` (bidirectional included: ``_reverse`` keys). An LSTM's bias_hh is all zeros (minilstm has one bias)."""
    if not all(hasattr(layer, a) for a in ("params", "num_layers")):
        raise InputTypeError(f"to_torch_state_dict takes a minilstm.LSTM or GRU, got {type(layer).__name__}.")
    cell, names = getattr(layer, "cell", "lstm"), getattr(layer, "param_names", ("W_x", "W_h", "b"))
    sd = {}
    for k in range(layer.num_layers):
        for suffix in getattr(layer, "directions", ("",)):
            params = {n: to_numpy(layer.params[f"l{k}{suffix}.{n}"]) for n in names}
            for name, arr in _layer_to_torch(cell, params).items():
                sd[f"{name}_l{k}{suffix}"] = np.ascontiguousarray(arr)
    return sd


# cell -> (torch class, gate blocks per weight)
CELLS = {"lstm": ("torch.nn.LSTM", 4), "gru": ("torch.nn.GRU", 3)}
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


def _layer_keys(k, bias, suffix=""):
    return [f"weight_ih_l{k}{suffix}", f"weight_hh_l{k}{suffix}"] + (
        [f"bias_ih_l{k}{suffix}", f"bias_hh_l{k}{suffix}"] if bias else [])


def is_bidirectional(sd):
    """A state_dict is from a bidirectional layer when it has ``_reverse`` keys (PyTorch's naming)."""
    return any(isinstance(k, str) and k.endswith("_reverse") for k in sd)


def _guess_kind(rows, H_cols):
    """Which torch recurrent layer has weight_hh of shape (rows, H)."""
    return _KINDS_BY_GATES.get(rows // H_cols) if H_cols and rows % H_cols == 0 else None


def check_torch_state_dict(sd, gates=4, kind="torch.nn.LSTM"):
    """Check a state_dict (key -> real NumPy array) of a ``kind`` with ``gates`` gate blocks.

    Expects, per layer k: weight_ih_l{k} (G*H, D_k), weight_hh_l{k} (G*H, H) and, unless the
    layer was built with bias=False, bias_ih_l{k} and bias_hh_l{k} (G*H,), with D_k = H for k >= 1;
    when bidirectional (``_reverse`` keys), the same keys with ``_reverse`` too, and D_k = 2H for k >= 1.
    Returns (num_layers, input_size D, hidden_size H, has_bias). Raises ShapeError naming
    missing keys, unexpected keys and every mis-shaped tensor.
    """
    names = [k for k in sd if isinstance(k, str)]
    if len(names) != len(sd):
        raise InputTypeError(f"state_dict keys must be strings, got {[k for k in sd if not isinstance(k, str)][:5]}.")
    if any(k.startswith("weight_hr_l") for k in names):
        raise ShapeError(f"this state_dict is from a projected (proj_size) {kind} (weight_hr_l* keys); minilstm "
                         "layers have no projection: use a layer built with proj_size=0.")
    suffixes = ("", "_reverse") if is_bidirectional(sd) else ("",)
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
    expected = [key for k in range(L) for suffix in suffixes for key in _layer_keys(k, bias, suffix)]
    missing = [k for k in expected if k not in sd]
    extra = [k for k in names if k not in expected]
    if missing or extra:
        parts = ([f"missing keys {missing[:12]}{' ...' if len(missing) > 12 else ''}"] if missing else []) + \
                ([f"unexpected keys {extra[:12]}{' ...' if len(extra) > 12 else ''}"] if extra else [])
        raise ShapeError(f"state_dict does not match a {L}-layer {'bidirectional ' if len(suffixes) == 2 else ''}"
                         f"{kind}: {'; '.join(parts)}. Pass the "
                         f"state_dict() of the {kind} itself (not of a model that contains it).")
    w_ih = sd["weight_ih_l0"]
    if w_ih.ndim != 2 or w_ih.shape[0] < gates or w_ih.shape[0] % gates or w_ih.shape[1] < 1:
        w_hh = sd["weight_hh_l0"]
        guess = _guess_kind(*w_hh.shape) if w_hh.ndim == 2 else None
        why = f" It looks like a {guess} state_dict." if guess and guess != kind else ""
        raise ShapeError(f"weight_ih_l0 must have shape ({gates}H, D) with H, D >= 1 ({gates} gate blocks of a "
                         f"{kind}), got {w_ih.shape}.{why}")
    H, D = w_ih.shape[0] // gates, w_ih.shape[1]
    for k, suffix in ((k, suffix) for k in range(L) for suffix in suffixes):
        want = {f"weight_ih_l{k}{suffix}": (gates * H, D if k == 0 else len(suffixes) * H),
                f"weight_hh_l{k}{suffix}": (gates * H, H)}
        if bias:
            want.update({f"bias_ih_l{k}{suffix}": (gates * H,), f"bias_hh_l{k}{suffix}": (gates * H,)})
        for key, shape in want.items():
            if sd[key].shape != shape:
                guess = _guess_kind(*sd[key].shape) if key.startswith("weight_hh") and sd[key].ndim == 2 else None
                why = f" It looks like a {guess} state_dict." if guess and guess != kind else ""
                raise ShapeError(f"{key} must have shape {shape} for a {kind} with input size {D} and hidden size "
                                 f"{H} ({gates} gate blocks), got {sd[key].shape}.{why}")
    return L, D, H, bias


def from_torch_state_dict(state_dict, dtype=np.float64, device="cpu", dropout=0.0, kernels="auto", seed=0,
                          cell="lstm"):
    """Build the equivalent ``minilstm.LSTM`` (cell='lstm') or ``minilstm.GRU`` (cell='gru') from a
    ``torch.nn.LSTM``/``GRU`` state_dict (tensors or arrays); bidirectional when it has ``_reverse`` keys.

    Every key and shape is checked first (``check_torch_state_dict``); layers built with
    ``bias=False`` get zero biases.
    """
    from .nn import GRU, LSTM

    if not isinstance(state_dict, Mapping):
        raise InputTypeError(f"state_dict must be a dict (module.state_dict()), got {type(state_dict).__name__}.")
    check_option(cell, "cell", tuple(CELLS))
    kind, gates = CELLS[cell]
    sd = {k: _to_numpy_tensor(k, v) for k, v in state_dict.items()}
    num_layers, D, H, bias = check_torch_state_dict(sd, gates, kind)
    layer = (GRU if cell == "gru" else LSTM)(D, H, num_layers=num_layers, dropout=dropout, dtype=dtype, device=device,
                                            kernels=kernels, seed=seed, bidirectional=is_bidirectional(sd))
    for k in range(num_layers):
        for suffix in layer.directions:
            params = _layer_from_torch(cell, sd, lambda n: f"{n}_l{k}{suffix}", bias, gates, H)
            for name, arr in params.items():
                layer.params[f"l{k}{suffix}.{name}"] = layer.xp.asarray(np.ascontiguousarray(arr), dtype=layer.dtype)
    return layer
