"""GPU benchmark: minilstm's CuPy kernels against torch.nn.LSTM on cuDNN, in the same run.

    python benchmarks/bench_gpu.py              # six configs, median of 30 (CUDA events)
    python benchmarks/bench_gpu.py --repeats 50 --configs seed huge

float32. For each (batch, time, features, hidden, layers): the forward pass and the training
step (forward, MSE on a linear head over the last hidden state, full BPTT), timed with CUDA
events after warm-up; the table ends with the ratio minilstm / cuDNN (< 1: minilstm faster)
and, for the largest config, the throughput fraction. Writes benchmarks/results/gpu.{json,md}.
"""
import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from common import GPU_CONFIGS, markdown_table, matmul_flops, write_results  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--configs", nargs="*", default=list(GPU_CONFIGS), choices=list(GPU_CONFIGS))
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    return args


def cuda_time(cp, fn, repeats, warmup):
    """Median milliseconds of fn() measured with CUDA events."""
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return statistics.median(times)


def minilstm_fns(cp, B, T, D, H, L):
    import minilstm
    from minilstm.functional import mse_loss
    lstm = minilstm.LSTM(D, H, num_layers=L, dtype=np.float32, device="cuda", kernels="cuda")
    head = minilstm.Linear(H, 1, dtype=np.float32, device="cuda")
    rng = np.random.default_rng(0)
    x = cp.asarray(rng.standard_normal((B, T, D)), dtype=cp.float32)
    y = cp.asarray(rng.standard_normal((B, 1)), dtype=cp.float32)
    dh_n = cp.zeros((L, B, H), dtype=cp.float32)

    def fwd():
        lstm.eval()
        out, _ = lstm.forward(x)
        head.forward(out[:, -1])
        lstm.train()

    def train():
        out, _ = lstm.forward(x)
        _, dpred = mse_loss(head.forward(out[:, -1]), y)
        dh_n[-1] = head.backward(dpred)
        lstm.backward(None, dh_n=dh_n)

    return fwd, train


def torch_fns(torch, B, T, D, H, L):
    dev = torch.device("cuda")
    lstm = torch.nn.LSTM(D, H, num_layers=L, batch_first=True).to(dev)
    head = torch.nn.Linear(H, 1).to(dev)
    x = torch.randn(B, T, D, device=dev)
    y = torch.randn(B, 1, device=dev)
    params = list(lstm.parameters()) + list(head.parameters())

    def fwd():
        with torch.no_grad():
            head(lstm(x)[0][:, -1])

    def train():
        for p in params:
            p.grad = None
        torch.nn.functional.mse_loss(head(lstm(x)[0][:, -1]), y).backward()

    return fwd, train


def format_table(rows, device_name):
    """Markdown table of the results, ratios last (pure function: tested without a GPU)."""
    hdr = ["config (B,T,D,H,L)", "cuDNN fwd ms", "minilstm fwd ms", "fwd ratio", "cuDNN train ms",
           "minilstm train ms", "train ratio", "minilstm train TFLOP/s"]
    body = []
    for r in rows:
        body.append([f"{r['config']} ({','.join(map(str, r['shape']))})", f"{r['torch_fwd_ms']:.3f}",
                     f"{r['minilstm_fwd_ms']:.3f}", f"**{r['minilstm_fwd_ms'] / r['torch_fwd_ms']:.2f}x**",
                     f"{r['torch_train_ms']:.3f}", f"{r['minilstm_train_ms']:.3f}",
                     f"**{r['minilstm_train_ms'] / r['torch_train_ms']:.2f}x**",
                     f"{matmul_flops(*r['shape'], True) / r['minilstm_train_ms'] / 1e9:.2f}"])
    return f"GPU: {device_name}; float32; median of CUDA-event timings.\n\n" + markdown_table(hdr, body)


def main(argv=None):
    args = parse_args(argv)
    try:
        import cupy as cp
        n = cp.cuda.runtime.getDeviceCount()
    except Exception as e:  # no CuPy or no driver
        print(f"NOTICE: no CUDA GPU usable through CuPy ({e}); nothing to benchmark.")
        return 0
    if n == 0:
        print("NOTICE: CuPy sees no GPU; nothing to benchmark.")
        return 0
    import torch
    torch.backends.cudnn.benchmark = True
    name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    rows = []
    for cfg in args.configs:
        B, T, D, H, L = GPU_CONFIGS[cfg]
        r = {"config": cfg, "shape": [B, T, D, H, L]}
        for side, fns in (("minilstm", minilstm_fns(cp, B, T, D, H, L)), ("torch", torch_fns(torch, B, T, D, H, L))):
            for mode, fn in zip(("fwd", "train"), fns):
                r[f"{side}_{mode}_ms"] = cuda_time(cp, fn, args.repeats, args.warmup)
        rows.append(r)
        print(f"  {cfg}: minilstm fwd {r['minilstm_fwd_ms']:.3f} train {r['minilstm_train_ms']:.3f} | "
              f"cuDNN fwd {r['torch_fwd_ms']:.3f} train {r['torch_train_ms']:.3f} ms", flush=True)
    text = format_table(rows, name)
    write_results({"device": name, "torch": torch.__version__, "cupy": cp.__version__, "configs": rows}, "gpu", text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
