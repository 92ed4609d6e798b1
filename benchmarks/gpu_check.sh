#!/usr/bin/env bash
# One-shot check on a CUDA machine: the SAE training benchmark (nested_k and global, fp32 and
# bf16; samples/s, ours / forward-GEMM, peak GPU memory) and the embedding GPU benchmark
# (slices/s and peak GPU memory). Nothing in the project depends on it.
#
#     bash benchmarks/gpu_check.sh            # PYTHON=/path/to/python to choose the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
export PYTHONPATH=$PWD

"$python" - <<'PY'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("no CUDA device: this check needs a GPU")
props = torch.cuda.get_device_properties(0)
print(f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}")
PY

echo "== SAE training step (d=1536, 8192 latents, batch 2048) =="
"$python" benchmarks/sae_train.py --device cuda --rows 100000 --seconds 20

echo "== embedding (random ViT-L/16 DINOv3 shape, bf16) =="
"$python" benchmarks/embedding_gpu.py
