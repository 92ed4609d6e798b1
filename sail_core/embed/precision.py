"""Which device to run on and whether to autocast the forward pass to bfloat16."""

from __future__ import annotations

from pathlib import Path

import torch

PRECISIONS = ("auto", "bf16", "fp32")

# CPU instructions that make bf16 matmuls several times faster than fp32 (AMX on Intel,
# AVX512-BF16 on Intel and AMD). Without them bf16 autocast is emulated and slower.
FAST_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_fast_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    if "AMX" in torch.backends.cpu.get_cpu_capability():
        return True
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(FAST_BF16_CPU_FLAGS & set(line.split(":", 1)[1].split()))
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "bf16" or "fp32"; "auto" picks bf16 on CUDA GPUs that support it and on fast-bf16 CPUs."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"
