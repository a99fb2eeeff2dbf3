"""Shared pieces of the benchmarks: configs, FLOP counts, the minilstm training step, tables and charts."""
import json
import os
import platform
import statistics

import numpy as np

# (batch, time, features, hidden, layers)
CONFIGS = {
    "seed": (32, 20, 10, 64, 2),
    "narrow": (16, 30, 5, 96, 2),
    "small": (1, 20, 10, 64, 2),
    "medium": (64, 50, 10, 128, 2),
    "large": (128, 100, 32, 256, 2),
    "xl": (256, 50, 64, 512, 1),
}
GPU_CONFIGS = {**CONFIGS, "huge": (1024, 100, 256, 1024, 2)}


def matmul_flops(B, T, D, H, L, train):
    """Floating-point operations of the matrix products (2 per multiply-add) of one step.

    Forward: per layer x_t W_x and h_{t-1} W_h for all steps: 2 B T 4H (D_l + H).
    Backward: the same again for dx/dh and again for dW: training = 3x forward. The head is negligible.
    """
    fwd = sum(2 * B * T * 4 * H * ((D if l == 0 else H) + H) for l in range(L))
    return 3 * fwd if train else fwd


def matmul_floor(B, T, D, H, L, train, dtype=np.float32, seed=0):
    """A closure issuing exactly the matrix products minilstm's CPU design issues, nothing else:
    per layer the input projection of all steps, one h_{t-1} @ W_h per step, and for training one
    da_t @ W_h^T per step plus dW_x, dW_h and dx as single products over all steps, all through NumPy's BLAS (at
    up to 32 batch rows minilstm's own per-step products replace the BLAS calls: there this is BLAS's cost)."""
    rng = np.random.default_rng(seed)
    layers = []
    for l in range(L):
        Dl = D if l == 0 else H
        layers.append({k: rng.standard_normal(s).astype(dtype) for k, s in (
            ("x", (T * B, Dl)), ("W_x", (Dl, 4 * H)), ("W_h", (H, 4 * H)), ("W_hT", (4 * H, H)), ("h", (B, H)),
            ("xw", (T * B, 4 * H)), ("a", (B, 4 * H)), ("da", (T * B, 4 * H)), ("dh", (B, H)),
            ("dWx", (Dl, 4 * H)), ("dWh", (H, 4 * H)), ("dx", (T * B, Dl)), ("hs", (T * B, H)))})

    def run():
        for p in layers:
            np.matmul(p["x"], p["W_x"], out=p["xw"])
            for _ in range(T):
                np.matmul(p["h"], p["W_h"], out=p["a"])
        if train:
            for p in reversed(layers):
                for t in range(T):
                    np.matmul(p["da"][t * B:(t + 1) * B], p["W_hT"], out=p["dh"])
                np.matmul(p["x"].T, p["da"], out=p["dWx"])
                np.matmul(p["hs"].T, p["da"], out=p["dWh"])
                np.matmul(p["da"], p["W_x"].T, out=p["dx"])
    return run


def median_ms(times):
    return statistics.median(times) * 1e3


def make_minilstm_step(B, T, D, H, L, kernels, dtype=np.float32, seed=0, cell="lstm"):
    """Return (train_step, infer) closures for minilstm on random data: forward, linear head on the
    last step's output, MSE, full BPTT (train_step); the forward without caches, ``layer.infer`` (infer).
    cell: 'lstm', 'gru' or 'bilstm' (a bidirectional LSTM: the head reads the (B, 2H) last output)."""
    import minilstm
    from minilstm.functional import mse_loss
    rng = np.random.default_rng(seed)
    Layer = minilstm.GRU if cell == "gru" else minilstm.LSTM
    extra = {"bidirectional": True} if cell == "bilstm" else {}
    layer = Layer(D, H, num_layers=L, dtype=dtype, kernels=kernels, seed=seed, device="cpu", **extra)
    width = 2 * H if cell == "bilstm" else H
    head = minilstm.Linear(width, 1, dtype=dtype, seed=seed + 1)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    y = rng.standard_normal((B, 1)).astype(dtype)
    dh_n = np.zeros((L, B, H), dtype=dtype)
    dout = np.zeros((B, T, width), dtype=dtype)

    def train_step():
        out, _ = layer.forward(x)
        pred = head.forward(out[:, -1])
        _, dpred = mse_loss(pred, y)
        if cell == "bilstm":                       # the last output holds both directions: through dout
            dout[:, -1] = head.backward(dpred)
            layer.backward(dout)
        else:                                      # the last output is the top layer's final state
            dh_n[-1] = head.backward(dpred)
            layer.backward(None, dh_n=dh_n)
        return layer.grads

    def infer():                                   # no dropout, no caches: PyTorch's no_grad forward
        out, _ = layer.infer(x)
        return head.forward(out[:, -1])

    return train_step, infer


def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, NumPy {np.__version__}"


def write_results(results, stem, markdown, chart=None, out=None):
    """Write results JSON, a markdown table and (optionally) a PNG chart under benchmarks/results/ (or out)."""
    out = out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write(markdown + "\n")
    if chart is not None:
        chart(os.path.join(out, f"{stem}.png"))
    return out


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
