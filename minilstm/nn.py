"""Layers: thin wrappers that hold parameters and caches and call the functional core.

``LSTM`` mirrors ``torch.nn.LSTM`` (batch_first) so learners can move between the two::

    lstm = LSTM(input_size, hidden_size, num_layers=1, dropout=0.0, dtype=np.float64, seed=0, device="cpu",
                bidirectional=False)
    out, (h_n, c_n) = lstm.forward(x, h0=None, c0=None)      # x (B, T, D) -> out (B, T, H); h_n, c_n (L, B, H)
    dx, dh0, dc0 = lstm.backward(dout, dh_n=None, dc_n=None)  # fills lstm.grads (same keys as lstm.params)

``GRU`` is the same with one state: ``out, h_n = gru.forward(x, h0=None)``, ``dx, dh0 = gru.backward(dout)``.
With ``bidirectional=True`` out is (B, T, 2H) = [forward, reverse] and the states (2L, B, H), as in PyTorch.

The math is in ``minilstm.core`` (reference) or a kernel family with the same
signatures (``minilstm.kernels``); this file never re-derives it.
"""
import numpy as np

from . import archive
from . import functional as Fn
from .backend import get_array_module, resolve_device, resolve_kernels, to_numpy, xp_for
from .core.bidirectional import as_states, bidirectional_backward, bidirectional_forward
from .errors import ConfigError, InputTypeError, MiniLSTMError, ModelFileError, NotFittedError, ShapeError
from .kernels import get_gru_impl, get_impl
from .kernels.cuda_selftest import fused_kernels_ok
from .validate import REAL, check_array, check_dtype, check_in_range, check_layer_size, check_number, check_seed


def make_rng(xp, seed):
    """A seeded generator: NumPy's Generator on the CPU, CuPy's RandomState on the GPU."""
    return np.random.default_rng(seed) if xp is np else xp.random.RandomState(seed)


def _stack(xp, arrays):
    """xp.stack(arrays) for arrays of one shape and dtype, by assignment (np.stack's checks cost more than the copy
    for a layer's few (B, H) states)."""
    out = xp.empty((len(arrays),) + arrays[0].shape, dtype=arrays[0].dtype)
    for k, a in enumerate(arrays):
        out[k] = a
    return out


class Module:
    """Holds ``params`` and ``grads`` (dicts of arrays with the same keys) and a training flag."""

    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def train(self, mode=True):
        """Training mode (dropout active) when ``mode`` is true, else evaluation mode; returns the module."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode (no dropout): ``train(False)``; returns the module."""
        return self.train(False)

    def __reduce__(self):
        """pickle and ``copy.deepcopy``: the layer's settings, parameters, training flag and dropout generator state
        as a zip of JSON + .npy (``minilstm.archive``), never the objects themselves; unpickling builds the layer
        anew from the settings and checks every array against it. Caches and gradients are not carried."""
        rng = getattr(self, "rng", None)
        meta = {"layer": type(self).__name__, "settings": self._settings(), "training": self.training,
                "rng": rng.bit_generator.state if isinstance(rng, np.random.Generator) else None}
        return _unpickle_layer, (type(self), archive.to_bytes(meta, {k: to_numpy(v) for k, v in self.params.items()}))

    def _as_input(self, a, name, shape, dims, finite=True):
        """Check an array handed to the layer (type, shape, real dtype, finite values), then cast it to the
        layer's dtype and device. shape: tuple with None for any size. Returns the cast array."""
        check_array(a, name, shape=shape, dims=dims, kind=REAL, finite=finite)
        if self.xp is np and get_array_module(a) is not np:
            raise InputTypeError(f"{name} is a CuPy array but this layer is on the CPU; pass cupy.asnumpy({name}) "
                                 "or build the layer with device='cuda'.")
        if finite:
            check_in_range(a, self.dtype, name)                    # finite here, Inf after the cast otherwise
        return self.xp.asarray(a, dtype=self.dtype)

    def _check_cache_ready(self, name):
        """backward needs the cache of a forward that no backward has used yet (a failed backward uses none)."""
        if self._cache_state is None:
            raise NotFittedError(f"{name}.backward called before forward, or after a forward that raised (it keeps no "
                                 "caches): run forward(x) first.")
        if self._cache_state == "used":
            raise NotFittedError(f"{name}.backward was already called for the last forward; run forward(x) again "
                                 "before the next backward (each forward keeps the caches for one backward).")


class Linear(Module):
    """y = x @ W + b.  x (N, in_features) -> y (N, out_features); W (in_features, out_features), b (out_features,)."""

    def __init__(self, in_features, out_features, dtype=np.float64, seed=0, device="cpu"):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            check_number(v, name, low=1, integer=True)
        self.dtype = check_dtype(dtype)
        self.device = resolve_device(device)
        self.xp = xp_for(self.device)
        rng = np.random.default_rng(check_seed(seed))
        k = 1.0 / np.sqrt(in_features)
        self.params = {
            "W": self.xp.asarray(rng.uniform(-k, k, (in_features, out_features)).astype(self.dtype)),
            "b": self.xp.asarray(rng.uniform(-k, k, out_features).astype(self.dtype)),
        }
        self.in_features, self.out_features = self.params["W"].shape
        self._cache, self._cache_state = None, None

    def _settings(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "dtype": self.dtype.name,
                "device": self.device}

    def __repr__(self):
        dt = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"Linear({self.in_features}, {self.out_features}{dt})"

    def forward(self, x):
        """x: (N, in_features) -> y (N, out_features)."""
        self._cache, self._cache_state = None, None          # a forward that raises leaves no cache behind
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


class Recurrent(Module):
    """Stacked recurrent layers of one cell, batch-first, one or two directions, inverted dropout between
    layers (not after the last). ``LSTM`` and ``GRU`` choose the cell; the math is in the cell's functions.

    Parameters of layer k are ``l{k}.<name>`` and, when bidirectional, ``l{k}_reverse.<name>`` for the
    direction that reads time backwards (PyTorch's suffix). Layer k > 0 reads num_directions * H features.
    Bidirectional layers follow ``torch.nn.LSTM``/``GRU``: out (B, T, 2H) is [forward, reverse] on the
    feature axis, and the states (num_layers * 2, B, H) are ordered layer 0 forward, layer 0 reverse, layer 1 ...
    ``kernels``: ``'auto'`` (fast path for the device), ``'numpy'`` (reference), ``'numba'`` or ``'cuda'``.
    ``device``: ``'cpu'``, ``'cuda'`` or ``'auto'``; no GPU path has yet run on real hardware, so an LSTM layer's
    fused CUDA kernels run a self-test first and fall back to the reference on the GPU if it fails
    (``minilstm.backend``, ``minilstm.kernels.cuda_selftest``).
    """

    cell = None            # "lstm" or "gru"
    n_gates = None         # gate blocks per weight matrix: 4 or 3
    state_names = ()       # the initial states forward takes: ("h0", "c0") or ("h0",)
    param_names = ()       # one layer's parameter names, as the cell's functions use them

    def __init__(self, input_size, hidden_size, num_layers=1, dropout=0.0, dtype=np.float64,
                 seed=0, device="cpu", kernels="auto", bidirectional=False):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}.")
        check_number(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        seed = check_seed(seed)
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise ConfigError(f"bidirectional must be True or False, got {bidirectional!r}.")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        self.dtype = check_dtype(dtype)
        check_layer_size(self.input_size, self.hidden_size, self.num_layers, self.dtype.itemsize, gates=self.n_gates,
                   directions=self.num_directions, what=type(self).__name__)
        self.device = resolve_device(device)
        self.kernels = self._checked_kernels(resolve_kernels(kernels, self.device), requested=kernels)
        self.xp = xp_for(self.device)
        self._cell_forward, self._cell_backward = self._cell_functions(self.kernels)
        self._cell_infer = getattr(self._impl, f"{self.cell}_infer", None) or self._forward_without_cache
        self.rng = make_rng(self.xp, seed)
        init = np.random.default_rng(seed)
        H = self.hidden_size
        for layer in range(self.num_layers):
            D = self.input_size if layer == 0 else self.num_directions * H
            for suffix in self.directions:
                for name, arr in self._init_params(init, D, H):
                    self.params[f"l{layer}{suffix}.{name}"] = self.xp.asarray(arr.astype(self.dtype))
        self.masks = None
        self._caches, self._cache_state = None, None

    def _settings(self):
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "dropout": self.dropout, "dtype": self.dtype.name, "device": self.device, "kernels": self.kernels,
                "bidirectional": self.bidirectional}

    def __repr__(self):
        """``LSTM(3, 16, num_layers=2)``: the sizes, then the settings that differ from their defaults."""
        s = self._settings()
        shown = [repr(self.input_size), repr(self.hidden_size)]
        shown += [f"{k}={s[k]!r}" for k, default in self._repr_defaults() if s[k] != default]
        return f"{type(self).__name__}({', '.join(shown)})"

    def _repr_defaults(self):
        return (("num_layers", 1), ("dropout", 0.0), ("bidirectional", False), ("dtype", "float64"),
                ("device", "cpu"), ("kernels", resolve_kernels("auto", self.device)))

    @property
    def directions(self):
        """The parameter-key suffixes of the directions: ("",) or ("", "_reverse")."""
        return ("", "_reverse")[:self.num_directions]

    def layer_params(self, layer, direction=0):
        """The parameter dict of one layer (and direction: 0 forward, 1 reverse) under the cell's names."""
        suffix = self.directions[direction]
        return {n: self.params[f"l{layer}{suffix}.{n}"] for n in self.param_names}

    def _states(self, s, B, name, finite=True):
        """None -> zeros; else a checked (num_layers * num_directions, B, hidden) array in the layer's dtype."""
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if s is None:
            return self.xp.zeros(shape, dtype=self.dtype)
        lead = "num_layers * num_directions" if self.bidirectional else "num_layers"
        return self._as_input(s, name, shape, (lead, "batch", "hidden"), finite=finite)

    def _check_masks(self, masks, B, T):
        """masks: a list of num_layers - 1 arrays (B, T, num_directions * hidden), as in ``self.masks``."""
        n, shape = self.num_layers - 1, (B, T, self.num_directions * self.hidden_size)
        if not isinstance(masks, (list, tuple)) or len(masks) != n:
            raise ShapeError(f"masks must be a list of num_layers - 1 = {n} arrays of shape {shape} (e.g. layer.masks "
                             f"from a forward on the same batch), got {type(masks).__name__}"
                             f"{f' of length {len(masks)}' if isinstance(masks, (list, tuple)) else ''}.")
        return [self._as_input(m, f"masks[{k}]", shape, ("batch", "time", "features")) for k, m in enumerate(masks)]

    def _checked_kernels(self, kernels, requested):
        """The kernel family the layer runs, given the resolved one and the ``kernels`` argument: the resolved one
        (a cell without fused CUDA kernels runs its reference on CuPy for 'cuda')."""
        return kernels

    def _forward_without_cache(self, *args):
        """The cell's forward with its cache dropped (kernels without a cache-free forward of their own)."""
        out, s_T, _ = self._cell_forward(*args)
        return out, s_T, None

    def _forward(self, x, states0, masks, keep=True):
        """x (B, T, input_size), states0: one entry per ``state_names`` (array or None) -> (out, tuple of states).
        keep=False: inference (``infer``): no dropout, no caches kept, the last forward's caches left as they are."""
        xp, L, nd = self.xp, self.num_layers, self.num_directions
        if keep:                     # the last forward's caches go first: never two sets held, and a forward
            self.masks, self._caches, self._cache_state = None, None, None     # that raises leaves none behind
        x = self._as_input(x, "x", (None, None, self.input_size), ("batch", "time", "features"))
        B, T, _ = x.shape
        if T < 1 or B < 1:
            raise ShapeError(f"x needs at least one sample and one time step, got shape {x.shape}.")
        states0 = [self._states(s, B, name) for s, name in zip(states0, self.state_names)]
        use_dropout = keep and self.training and self.dropout > 0 and L > 1
        if masks is not None and use_dropout:
            masks = self._check_masks(masks, B, T)
        if masks is None and use_dropout:
            masks = [Fn.dropout_mask(self.rng, (B, T, nd * self.hidden_size), self.dropout, self.dtype, xp)
                     for _ in range(L - 1)]
        elif not use_dropout:
            masks = None
        cell = self._cell_forward if keep else self._cell_infer
        caches, finals = [], []
        inp = x
        for layer in range(L):
            s0 = [tuple(s[layer * nd + d] for s in states0) for d in range(nd)]
            params = [self.layer_params(layer, d) for d in range(nd)]
            if nd == 1:
                out, s_T, cache = cell(inp, *s0[0], params[0])
                finals.append(as_states(s_T))
            else:
                out, s_T, cache = bidirectional_forward(cell, inp, s0, params)
                finals.extend(s_T)                               # forward, then reverse: PyTorch's order
            caches.append(cache)
            if layer < L - 1 and masks is not None:
                out = Fn.dropout_forward(out, masks[layer])
            inp = out
        if keep:
            self.masks, self._caches, self._cache_state, self._batch_time = masks, caches, "ready", (B, T)
        return out, tuple(_stack(xp, [f[i] for f in finals]) for i in range(len(self.state_names)))

    def _backward(self, dout, dstates_n):
        """dout (B, T, num_directions * H) or None; dstates_n: one entry per state (array or None).
        Returns (dx, tuple of the initial states' gradients) and fills ``self.grads``."""
        self._check_cache_ready(type(self).__name__)
        xp, L, nd = self.xp, self.num_layers, self.num_directions
        B, T = self._batch_time
        if dout is not None:
            dout = self._as_input(dout, "dout", (B, T, nd * self.hidden_size), ("batch", "time", "features"),
                                  finite=False)
        dstates_n = [None if d is None else self._states(d, B, f"d{name[:-1]}_n", finite=False)
                     for d, name in zip(dstates_n, self.state_names)]
        dstates0, grads = [None] * (L * nd), {}
        for layer in reversed(range(L)):
            if layer < L - 1 and self.masks is not None and dout is not None:
                dout = Fn.dropout_backward(dout, self.masks[layer])
            ds = [tuple(None if d is None else d[layer * nd + k] for d in dstates_n) for k in range(nd)]
            if nd == 1:
                res = self._cell_backward(dout, *ds[0], self._caches[layer])
                dout, ds0, dps = res[0], [tuple(res[1:-1])], [res[-1]]
            else:
                dout, ds0, dps = bidirectional_backward(self._cell_backward, dout, ds, self._caches[layer])
            for k in range(nd):
                dstates0[layer * nd + k] = ds0[k]
                grads.update({f"l{layer}{self.directions[k]}.{name}": g for name, g in dps[k].items()})
        self.grads = {k: grads[k] for k in self.params}
        self._cache_state = "used"
        return dout, tuple(_stack(xp, [s[i] for s in dstates0]) for i in range(len(self.state_names)))

    def _layer_cache(self, layer, direction):
        if self._caches is None:
            raise NotFittedError("gate_activations needs a forward pass first: run forward(x).")
        if isinstance(direction, (bool, np.bool_)) or not isinstance(direction, (int, np.integer)) or \
                direction not in range(self.num_directions):
            raise ConfigError(f"direction must be 0 (forward){' or 1 (reverse)' if self.bidirectional else ''} for "
                              f"this {'bidirectional' if self.bidirectional else 'unidirectional'} layer, got "
                              f"{direction!r}.")
        n = self.num_layers
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)) or not -n <= layer < n:
            raise ConfigError(f"layer must be an integer in [{-n}, {n - 1}] ({n} layer{'s' if n > 1 else ''}; -1: the "
                              f"top one), got {layer!r}.")
        cache = self._caches[int(layer)]
        return cache[direction] if self.bidirectional else cache

    def _in_time_order(self, acts, direction):
        """The reverse direction ran on reversed time: put its activations back in the input's time order."""
        return acts if direction == 0 else {k: v[:, ::-1] for k, v in acts.items()}


class LSTM(Recurrent):
    """Stacked LSTM (torch.nn.LSTM's conventions, batch_first).

    Per layer and time step (``minilstm.core.lstm``)::

        f_t  = sigmoid(x_t W_xf + h_{t-1} W_hf + b_f)     i_t = sigmoid(x_t W_xi + h_{t-1} W_hi + b_i)
        c~_t = tanh(x_t W_xc + h_{t-1} W_hc + b_c)        o_t = sigmoid(x_t W_xo + h_{t-1} W_ho + b_o)
        C_t  = f_t * C_{t-1} + i_t * c~_t                 h_t = o_t * tanh(C_t)

    Shapes: x (B, T, input_size) -> out (B, T, num_directions * H); h_0, c_0 and h_n, c_n
    (num_layers * num_directions, B, H). Parameters are stored per layer k as ``l{k}.W_x`` (D_k, 4H),
    ``l{k}.W_h`` (H, 4H) and ``l{k}.b`` (4H,), gate order f, i, c~, o; ``l{k}_reverse.*`` when bidirectional.
    """

    cell = "lstm"
    n_gates = 4
    state_names = ("h0", "c0")
    param_names = ("W_x", "W_h", "b")

    def __init__(self, input_size, hidden_size, num_layers=1, dropout=0.0, dtype=np.float64,
                 seed=0, device="cpu", kernels="auto", forget_bias=0.0, bidirectional=False):
        self.forget_bias = check_number(forget_bias, "forget_bias")
        super().__init__(input_size, hidden_size, num_layers, dropout, dtype, seed, device, kernels, bidirectional)

    def _checked_kernels(self, kernels, requested):
        """'cuda' -> the fused kernels if they pass their first-use self-test for the layer's dtype (run once per
        dtype and process, ``minilstm.kernels.cuda_selftest``), else 'numpy': the reference on the GPU, with a
        warning; a failure raises DeviceError instead when kernels='cuda' was asked for by name."""
        explicit = isinstance(requested, str) and requested.lower() == "cuda"
        if kernels == "cuda" and not fused_kernels_ok(self.dtype, explicit=explicit):
            return "numpy"
        return kernels

    def _settings(self):
        return {**super()._settings(), "forget_bias": self.forget_bias}

    def _repr_defaults(self):
        return super()._repr_defaults() + (("forget_bias", 0.0),)

    def _cell_functions(self, kernels):
        self._impl = get_impl(kernels)
        return self._impl.lstm_forward, self._impl.lstm_backward

    def _init_params(self, init, D, H):
        k = 1.0 / np.sqrt(H)  # torch.nn.LSTM's initialisation: U(-1/sqrt(H), 1/sqrt(H))
        b = init.uniform(-k, k, 4 * H)
        b[:H] += self.forget_bias
        return (("W_x", init.uniform(-k, k, (D, 4 * H))), ("W_h", init.uniform(-k, k, (H, 4 * H))), ("b", b))

    def forward(self, x, h0=None, c0=None, masks=None):
        """x: (B, T, input_size) -> out (B, T, num_directions * H), (h_n, c_n) each (num_layers * num_directions, B, H).

        masks: optional list of num_layers - 1 dropout masks (B, T, num_directions * H) to reuse
        (e.g. ``lstm.masks`` from a previous call) for a gradient check.
        """
        return self._forward(x, (h0, c0), masks)

    def infer(self, x, h0=None, c0=None):
        """Inference: ``forward`` in eval mode (no dropout) that keeps no cache, so it needs less memory and time;
        no ``backward`` or ``gate_activations`` follows it (those still see the last ``forward``). Same outputs."""
        return self._forward(x, (h0, c0), None, keep=False)

    def backward(self, dout, dh_n=None, dc_n=None):
        """dout: (B, T, num_directions * H) gradient on out; dh_n, dc_n: (num_layers * num_directions, B, H) or None.

        Returns (dx (B, T, input_size), dh0, dc0 (num_layers * num_directions, B, H)) and fills ``self.grads``.
        Shapes are checked against the last forward; call it once per forward.
        """
        dx, (dh0, dc0) = self._backward(dout, (dh_n, dc_n))
        return dx, dh0, dc0

    def gate_activations(self, layer=-1, direction=0):
        """Gate activations f, i, c_tilde, o, C, h (each (B, T, H)) of the last forward, for plots.
        direction: 0 forward, 1 reverse (bidirectional layers; given in the input's time order)."""
        from .core.lstm import gate_activations
        return self._in_time_order(gate_activations(self._layer_cache(layer, direction)), direction)


class GRU(Recurrent):
    """Stacked GRU (torch.nn.GRU's conventions, batch_first).

    Per layer and time step (``minilstm.core.gru``)::

        r_t = sigmoid(x_t W_xr + b_xr + h_{t-1} W_hr + b_hr)
        z_t = sigmoid(x_t W_xz + b_xz + h_{t-1} W_hz + b_hz)
        n_t = tanh(x_t W_xn + b_xn + r_t * (h_{t-1} W_hn + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Shapes: x (B, T, input_size) -> out (B, T, num_directions * H); h_0 and h_n
    (num_layers * num_directions, B, H). Parameters are stored per layer k as ``l{k}.W_x`` (D_k, 3H),
    ``l{k}.W_h`` (H, 3H), ``l{k}.b_x`` and ``l{k}.b_h`` (3H,), gate order r, z, n; ``l{k}_reverse.*`` when
    bidirectional.
    """

    cell = "gru"
    n_gates = 3
    state_names = ("h0",)
    param_names = ("W_x", "W_h", "b_x", "b_h")

    def _cell_functions(self, kernels):
        self._impl = get_gru_impl(kernels)
        return self._impl.gru_forward, self._impl.gru_backward

    def _init_params(self, init, D, H):
        k = 1.0 / np.sqrt(H)  # torch.nn.GRU's initialisation: U(-1/sqrt(H), 1/sqrt(H))
        return (("W_x", init.uniform(-k, k, (D, 3 * H))), ("W_h", init.uniform(-k, k, (H, 3 * H))),
                ("b_x", init.uniform(-k, k, 3 * H)), ("b_h", init.uniform(-k, k, 3 * H)))

    def forward(self, x, h0=None, masks=None):
        """x: (B, T, input_size) -> out (B, T, num_directions * H), h_n (num_layers * num_directions, B, H).

        masks: optional list of num_layers - 1 dropout masks, as for ``LSTM.forward``.
        """
        out, (h_n,) = self._forward(x, (h0,), masks)
        return out, h_n

    def infer(self, x, h0=None):
        """Inference: ``forward`` in eval mode (no dropout) keeping no cache, as ``LSTM.infer``."""
        out, (h_n,) = self._forward(x, (h0,), None, keep=False)
        return out, h_n

    def backward(self, dout, dh_n=None):
        """dout: (B, T, num_directions * H) gradient on out; dh_n: (num_layers * num_directions, B, H) or None.

        Returns (dx (B, T, input_size), dh0 (num_layers * num_directions, B, H)) and fills ``self.grads``.
        """
        dx, (dh0,) = self._backward(dout, (dh_n,))
        return dx, dh0

    def gate_activations(self, layer=-1, direction=0):
        """Gate activations r, z, n, h (each (B, T, H)) of the last forward, for plots."""
        from .core.gru import gru_gate_activations
        return self._in_time_order(gru_gate_activations(self._layer_cache(layer, direction)), direction)


def _unpickle_layer(cls, data):
    """A pickled layer (``Module.__reduce__``): rebuilt from its checked settings, then every array checked against
    the new layer's own (names, shapes, dtype) before it replaces them."""
    if not (isinstance(cls, type) and cls in (Linear, LSTM, GRU)):
        raise ModelFileError(f"a pickled layer names {cls!r}, not minilstm's Linear, LSTM or GRU; the pickle was not "
                             "written by minilstm.")
    what = f"a pickled {cls.__name__} layer"
    meta, arrays = archive.from_bytes(data, what)
    settings = meta.get("settings")
    if meta.get("layer") != cls.__name__ or not isinstance(settings, dict):
        raise ModelFileError(f"{what}: its metadata describes {str(meta.get('layer'))[:40]!r}, not a {cls.__name__}.")
    try:
        layer = cls(**settings)
    except (MiniLSTMError, TypeError) as e:
        raise ModelFileError(f"{what}: its settings are invalid ({e}).") from None
    if set(arrays) != set(layer.params):
        raise ModelFileError(f"{what}: it holds arrays {sorted(arrays)[:8]}, the layer has {sorted(layer.params)[:8]}.")
    for k, v in layer.params.items():
        if arrays[k].shape != v.shape or arrays[k].dtype != layer.dtype:
            raise ModelFileError(f"{what}: array {k} is {arrays[k].dtype} {arrays[k].shape}, the layer's is "
                                 f"{layer.dtype} {v.shape}.")
    layer.params = {k: layer.xp.asarray(arrays[k]) for k in layer.params}
    if not isinstance(meta.get("training"), bool):
        raise ModelFileError(f"{what}: its training flag must be true or false, got {meta.get('training')!r}.")
    layer.train(meta["training"])
    if meta.get("rng") is not None and isinstance(getattr(layer, "rng", None), np.random.Generator):
        try:
            layer.rng.bit_generator.state = meta["rng"]
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ModelFileError(f"{what}: its dropout generator state is invalid ({e}).") from None
    return layer
