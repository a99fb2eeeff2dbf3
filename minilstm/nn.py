"""Layers: thin wrappers that hold parameters and caches and call the functional core.

``LSTM`` mirrors ``torch.nn.LSTM`` (batch_first) so learners can move between the two::

    lstm = LSTM(input_size, hidden_size, num_layers=1, dropout=0.0, dtype=np.float64, seed=0, device="cpu")
    out, (h_n, c_n) = lstm.forward(x, h0=None, c0=None)      # x (B, T, D) -> out (B, T, H); h_n, c_n (L, B, H)
    dx, dh0, dc0 = lstm.backward(dout, dh_n=None, dc_n=None)  # fills lstm.grads (same keys as lstm.params)

The math is in ``minilstm.core`` (reference) or a kernel family with the same
signatures (``minilstm.kernels``); this file never re-derives it.
"""
import numpy as np

from . import functional as Fn
from .backend import get_array_module, resolve_device, resolve_kernels, xp_for
from .errors import ConfigError, InputTypeError, NotFittedError, ShapeError
from .kernels import get_impl
from .validate import REAL, check_array, check_number

_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}


def check_dtype(dtype):
    """float32 or float64 (anything NumPy reads as one of them), else ConfigError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}.") from None
    if dt not in _DTYPES:
        raise ConfigError(f"dtype must be float32 or float64, got {dt}.")
    return dt


MAX_LAYERS = 1024
MAX_PARAM_BYTES = 16 << 30    # 16 GiB of weights: far beyond any LSTM this engine is meant for


def check_size(D, H, L, itemsize):
    """Refuse layer sizes that would hang or exhaust memory while the weights are built."""
    if L > MAX_LAYERS:
        raise ConfigError(f"num_layers must be at most {MAX_LAYERS}, got {L}.")
    n = 4 * H * (D + H + 1) + (L - 1) * 4 * H * (2 * H + 1)
    if n * itemsize > MAX_PARAM_BYTES:
        raise ConfigError(f"an LSTM with input_size={D}, hidden_size={H}, num_layers={L} has {n:.3g} parameters "
                          f"({n * itemsize / 2**30:.3g} GiB), above the {MAX_PARAM_BYTES >> 30} GiB limit; use smaller "
                          "sizes.")


def make_rng(xp, seed):
    """A seeded generator: NumPy's Generator on the CPU, CuPy's RandomState on the GPU."""
    return np.random.default_rng(seed) if xp is np else xp.random.RandomState(seed)


class Module:
    """Holds ``params`` and ``grads`` (dicts of arrays with the same keys) and a training flag."""

    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        self.grads = {k: self.xp.zeros_like(v) for k, v in self.params.items()}

    def _as_input(self, a, name, shape, dims, finite=True):
        """Check an array handed to the layer (type, shape, real dtype, finite values), then cast it to the
        layer's dtype and device. shape: tuple with None for any size. Returns the cast array."""
        check_array(a, name, shape=shape, dims=dims, kind=REAL, finite=finite)
        if self.xp is np and get_array_module(a) is not np:
            raise InputTypeError(f"{name} is a CuPy array but this layer is on the CPU; pass cupy.asnumpy({name}) "
                                 "or build the layer with device='cuda'.")
        return self.xp.asarray(a, dtype=self.dtype)

    def _check_cache_ready(self, name):
        """backward needs the cache of a forward that no backward has used yet (a failed backward uses none)."""
        if self._cache_state is None:
            raise NotFittedError(f"{name}.backward called before forward: run forward(x) first (it keeps the caches).")
        if self._cache_state == "used":
            raise NotFittedError(f"{name}.backward was already called for the last forward; run forward(x) again "
                                 "before the next backward (each forward keeps the caches for one backward).")


class Linear(Module):
    """y = x @ W + b.  x (N, in_features) -> y (N, out_features)."""

    def __init__(self, in_features, out_features, dtype=np.float64, seed=0, device="cpu"):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            check_number(v, name, low=1, integer=True)
        self.dtype = check_dtype(dtype)
        self.device = resolve_device(device)
        self.xp = xp_for(self.device)
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(in_features)
        self.params = {
            "W": self.xp.asarray(rng.uniform(-k, k, (in_features, out_features)).astype(self.dtype)),
            "b": self.xp.asarray(rng.uniform(-k, k, out_features).astype(self.dtype)),
        }
        self.in_features, self.out_features = self.params["W"].shape
        self._cache, self._cache_state = None, None

    def forward(self, x):
        """x: (N, in_features) -> y (N, out_features)."""
        x = self._as_input(x, "x", (None, self.in_features), ("batch", "in_features"))
        y, self._cache = Fn.linear_forward(x, self.params["W"], self.params["b"])
        self._cache_state = "ready"
        return y

    def backward(self, dy):
        """dy: (N, out_features) gradient on y -> dx (N, in_features); fills ``self.grads``."""
        self._check_cache_ready("Linear")
        N = self._cache[0].shape[0]
        dy = self._as_input(dy, "dy", (N, self.out_features), ("batch", "out_features"), finite=False)
        dx, self.grads = Fn.linear_backward(dy, self._cache)
        self._cache_state = "used"
        return dx


class LSTM(Module):
    """Stacked LSTM, batch-first, inverted dropout between layers (not after the last).

    Parameters are stored per layer k as ``l{k}.W_x`` (D_k, 4H), ``l{k}.W_h`` (H, 4H)
    and ``l{k}.b`` (4H,), gate order f, i, c~, o (see ``minilstm.core``).
    ``kernels``: ``'auto'`` (fast path for the device), ``'numpy'`` (reference), ``'numba'`` or ``'cuda'``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, dropout=0.0, dtype=np.float64,
                 seed=0, device="cpu", kernels="auto", forget_bias=0.0):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}.")
        check_number(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_number(forget_bias, "forget_bias")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.dropout = float(dropout)
        self.dtype = check_dtype(dtype)
        check_size(self.input_size, self.hidden_size, self.num_layers, self.dtype.itemsize)
        self.device = resolve_device(device)
        self.kernels = resolve_kernels(kernels, self.device)
        self.xp = xp_for(self.device)
        self._impl = get_impl(self.kernels)
        self.rng = make_rng(self.xp, seed)
        init = np.random.default_rng(seed)
        H = self.hidden_size
        k = 1.0 / np.sqrt(H)  # torch.nn.LSTM's initialisation: U(-1/sqrt(H), 1/sqrt(H))
        for layer in range(self.num_layers):
            D = self.input_size if layer == 0 else H
            b = init.uniform(-k, k, 4 * H)
            b[:H] += forget_bias
            for name, arr in (("W_x", init.uniform(-k, k, (D, 4 * H))), ("W_h", init.uniform(-k, k, (H, 4 * H))),
                              ("b", b)):
                self.params[f"l{layer}.{name}"] = self.xp.asarray(arr.astype(self.dtype))
        self.masks = None
        self._caches, self._cache_state = None, None

    def layer_params(self, layer):
        """The parameter dict of one layer under the core's names W_x, W_h, b."""
        return {n: self.params[f"l{layer}.{n}"] for n in ("W_x", "W_h", "b")}

    def _states(self, s, B, name, finite=True):
        """None -> zeros; else a checked (num_layers, B, hidden) array in the layer's dtype."""
        L, H = self.num_layers, self.hidden_size
        if s is None:
            return self.xp.zeros((L, B, H), dtype=self.dtype)
        return self._as_input(s, name, (L, B, H), ("num_layers", "batch", "hidden"), finite=finite)

    def _check_masks(self, masks, B, T):
        """masks: a list of num_layers - 1 arrays (B, T, hidden), as in ``self.masks``."""
        n, shape = self.num_layers - 1, (B, T, self.hidden_size)
        if not isinstance(masks, (list, tuple)) or len(masks) != n:
            raise ShapeError(f"masks must be a list of num_layers - 1 = {n} arrays of shape {shape} (e.g. lstm.masks "
                             f"from a forward on the same batch), got {type(masks).__name__}"
                             f"{f' of length {len(masks)}' if isinstance(masks, (list, tuple)) else ''}.")
        return [self._as_input(m, f"masks[{k}]", shape, ("batch", "time", "hidden")) for k, m in enumerate(masks)]

    def forward(self, x, h0=None, c0=None, masks=None):
        """x: (B, T, input_size) -> out (B, T, H), (h_n, c_n) each (num_layers, B, H).

        masks: optional list of num_layers - 1 dropout masks (B, T, H) to reuse
        (e.g. ``lstm.masks`` from a previous call) for a gradient check.
        """
        xp = self.xp
        x = self._as_input(x, "x", (None, None, self.input_size), ("batch", "time", "features"))
        B, T, _ = x.shape
        if T < 1 or B < 1:
            raise ShapeError(f"x needs at least one sample and one time step, got shape {x.shape}.")
        h0, c0 = self._states(h0, B, "h0"), self._states(c0, B, "c0")
        use_dropout = self.training and self.dropout > 0 and self.num_layers > 1
        if masks is not None and use_dropout:
            masks = self._check_masks(masks, B, T)
        if masks is None and use_dropout:
            masks = [Fn.dropout_mask(self.rng, (B, T, self.hidden_size), self.dropout, self.dtype, xp)
                     for _ in range(self.num_layers - 1)]
        elif not use_dropout:
            masks = None
        self.masks, caches, h_n, c_n = masks, [], [], []
        inp = x
        for layer in range(self.num_layers):
            out, (h_T, c_T), cache = self._impl.lstm_forward(inp, h0[layer], c0[layer], self.layer_params(layer))
            caches.append(cache)
            h_n.append(h_T)
            c_n.append(c_T)
            if layer < self.num_layers - 1 and masks is not None:
                out = Fn.dropout_forward(out, masks[layer])
            inp = out
        self._caches, self._cache_state = caches, "ready"
        return out, (xp.stack(h_n), xp.stack(c_n))

    def backward(self, dout, dh_n=None, dc_n=None):
        """dout: (B, T, H) gradient on out; dh_n, dc_n: (num_layers, B, H) or None.

        Returns (dx (B, T, input_size), dh0, dc0 (num_layers, B, H)) and fills ``self.grads``.
        Shapes are checked against the last forward; call it once per forward.
        """
        self._check_cache_ready("LSTM")
        xp = self.xp
        T, B = self._caches[0]["x_tm"].shape[:2]
        if dout is not None:
            dout = self._as_input(dout, "dout", (B, T, self.hidden_size), ("batch", "time", "hidden"), finite=False)
        dh_n = None if dh_n is None else self._states(dh_n, B, "dh_n", finite=False)
        dc_n = None if dc_n is None else self._states(dc_n, B, "dc_n", finite=False)
        dh0, dc0, grads = [None] * self.num_layers, [None] * self.num_layers, {}
        for layer in reversed(range(self.num_layers)):
            if layer < self.num_layers - 1 and self.masks is not None and dout is not None:
                dout = Fn.dropout_backward(dout, self.masks[layer])
            dout, dh0[layer], dc0[layer], dp = self._impl.lstm_backward(
                dout, None if dh_n is None else dh_n[layer], None if dc_n is None else dc_n[layer],
                self._caches[layer])
            for name, g in dp.items():
                grads[f"l{layer}.{name}"] = g
        self.grads = {k: grads[k] for k in self.params}
        self._cache_state = "used"
        return dout, xp.stack(dh0), xp.stack(dc0)

    def gate_activations(self, layer=-1):
        """Gate activations f, i, c_tilde, o, C, h (each (B, T, H)) of the last forward, for plots."""
        from .core import gate_activations
        if self._caches is None:
            raise NotFittedError("gate_activations needs a forward pass first: run forward(x).")
        return gate_activations(self._caches[layer])
