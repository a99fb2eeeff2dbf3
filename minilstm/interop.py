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
import numpy as np

from .backend import to_numpy


def _swap_if(a, axis):
    """Swap the first two of four gate blocks along ``axis`` (f,i,g,o <-> i,f,g,o). Own inverse."""
    H = a.shape[axis] // 4
    idx = np.r_[H:2 * H, 0:H, 2 * H:4 * H]
    return np.take(a, idx, axis=axis)


def to_torch_state_dict(lstm):
    """NumPy arrays keyed exactly like ``torch.nn.LSTM(...).state_dict()`` (bias_hh is all zeros)."""
    sd = {}
    for k in range(lstm.num_layers):
        W_x, W_h, b = (to_numpy(lstm.params[f"l{k}.{n}"]) for n in ("W_x", "W_h", "b"))
        sd[f"weight_ih_l{k}"] = np.ascontiguousarray(_swap_if(W_x, 1).T)
        sd[f"weight_hh_l{k}"] = np.ascontiguousarray(_swap_if(W_h, 1).T)
        sd[f"bias_ih_l{k}"] = _swap_if(b, 0)
        sd[f"bias_hh_l{k}"] = np.zeros_like(b)
    return sd


def from_torch_state_dict(state_dict, dtype=np.float64, device="cpu", dropout=0.0, kernels="auto", seed=0):
    """Build the equivalent ``minilstm.LSTM`` from a ``torch.nn.LSTM`` state_dict (tensors or arrays)."""
    from .nn import LSTM

    sd = {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in state_dict.items()}
    if any(k.endswith("_reverse") or k.startswith("weight_hr_l") for k in sd):
        raise ValueError("this state_dict is from a bidirectional or projected (proj_size) torch.nn.LSTM; "
                         "minilstm.LSTM is unidirectional without projection.")
    num_layers = len([k for k in sd if k.startswith("weight_ih_l")])
    if num_layers == 0 or any(f"weight_ih_l{k}" not in sd for k in range(num_layers)):
        raise ValueError("state_dict has no weight_ih_l0..: is it from a torch.nn.LSTM (not bidirectional)?")
    H4, D = sd["weight_ih_l0"].shape
    lstm = LSTM(D, H4 // 4, num_layers=num_layers, dropout=dropout, dtype=dtype, device=device,
                kernels=kernels, seed=seed)
    for k in range(num_layers):
        b = sd[f"bias_ih_l{k}"] + sd[f"bias_hh_l{k}"]
        for name, arr in (("W_x", _swap_if(sd[f"weight_ih_l{k}"].T, 1)), ("W_h", _swap_if(sd[f"weight_hh_l{k}"].T, 1)),
                          ("b", _swap_if(b, 0))):
            lstm.params[f"l{k}.{name}"] = lstm.xp.asarray(np.ascontiguousarray(arr), dtype=lstm.dtype)
    return lstm
