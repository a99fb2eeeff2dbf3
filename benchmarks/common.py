"""Shared pieces of the benchmarks: configs, FLOP counts, the minilstm training step, tables and charts."""
import json
import os
import platform
import statistics

import numpy as np

# (batch, time, features, hidden, layers)
CONFIGS = {
    "seed": (32, 20, 10, 64, 2),
    "small": (1, 20, 10, 64, 2),
    "medium": (64, 50, 10, 128, 2),
    "large": (128, 100, 32, 256, 2),
    "xl": (256, 50, 64, 512, 1),
}
GPU_CONFIGS = {
    "seed": (32, 20, 10, 64, 2),
    "small": (1, 20, 10, 64, 2),
    "medium": (64, 50, 10, 128, 2),
    "large": (128, 100, 32, 256, 2),
    "xl": (256, 50, 64, 512, 1),
    "huge": (1024, 100, 256, 1024, 2),
}


def matmul_flops(B, T, D, H, L, train):
    """Floating-point operations of the matrix products (2 per multiply-add) of one step.

    Forward: per layer x_t W_x and h_{t-1} W_h for all steps: 2 B T 4H (D_l + H).
    Backward: the same again for dx/dh and again for dW: training = 3x forward. The head is negligible.
    """
    fwd = sum(2 * B * T * 4 * H * ((D if l == 0 else H) + H) for l in range(L))
    return 3 * fwd if train else fwd


def median_ms(times):
    return statistics.median(times) * 1e3


def make_minilstm_step(B, T, D, H, L, kernels, dtype=np.float32, seed=0):
    """Return (train_step, infer) closures for minilstm on random data: forward, linear head on the
    last hidden state, MSE, full BPTT (train_step); forward in eval mode (infer)."""
    import minilstm
    from minilstm.functional import mse_loss
    rng = np.random.default_rng(seed)
    lstm = minilstm.LSTM(D, H, num_layers=L, dtype=dtype, kernels=kernels, seed=seed, device="cpu")
    head = minilstm.Linear(H, 1, dtype=dtype, seed=seed + 1)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    y = rng.standard_normal((B, 1)).astype(dtype)
    dh_n = np.zeros((L, B, H), dtype=dtype)

    def train_step():
        out, _ = lstm.forward(x)
        pred = head.forward(out[:, -1])
        _, dpred = mse_loss(pred, y)
        dh_n[-1] = head.backward(dpred)
        lstm.backward(None, dh_n=dh_n)
        return lstm.grads

    def infer():
        lstm.eval()
        out, _ = lstm.forward(x)
        lstm.train()
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


def write_results(results, stem, markdown, chart=None):
    """Write results JSON, a markdown table and (optionally) a PNG chart under benchmarks/results/."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
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
