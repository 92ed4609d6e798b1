"""The study's random-baseline initialisation, shared by every random encoder.

Seed, build the model, then re-initialise every Linear and Conv weight from a truncated normal
(std 0.02) with zero biases and every LayerNorm to weight 1, bias 0; other parameters (CLS and
register tokens, layer scales) keep the model's own, seeded initialisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

REINITIALISED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
Model = TypeVar("Model", bound=nn.Module)


def reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    for layer in module.modules():
        if isinstance(layer, REINITIALISED_LAYERS):
            nn.init.trunc_normal_(layer.weight, std=0.02, generator=generator)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.LayerNorm):
            if layer.weight is not None:
                nn.init.ones_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def seeded_random_model(build: Callable[[], Model], seed: int) -> Model:
    """`build()` and re-initialise its result, driven by `seed` alone (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = build()
    reinitialise(module, torch.Generator().manual_seed(seed))
    return module
