#!/usr/bin/env bash
# One-shot GPU check: the CUDA tests, then the GPU benchmark against cuDNN, with a table at the end.
# Runs as is on a fresh GPU machine that has CuPy and PyTorch installed (no network needed):
#   bash benchmarks/gpu_check.sh            (about 2-4 minutes)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 -c "import cupy, torch; print('cupy', cupy.__version__, '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
status=0
if python3 -c "import pytest" 2>/dev/null; then
  timeout 150 python3 -m pytest -q tests/test_cuda.py -p no:cacheprovider || status=$?
else
  echo "pytest is not installed here: skipping the CUDA tests"; status=1
fi
timeout 200 python3 benchmarks/bench_gpu.py --repeats 30 || status=$?
[ -n "${OUT:-}" ] && cp -f benchmarks/results/gpu.* "$OUT"/ 2>/dev/null
exit $status
