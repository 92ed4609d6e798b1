"""Test data shared across test packages, written in the formats the project reads."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def write_study_checkpoint(
    path,
    d_in: int,
    widths: list[int],
    ks: list[int],
    with_hparams: bool = True,
    threshold: float = 0.08,
) -> dict:
    """A checkpoint in the study's Lightning layout (see sail_core.sae.convert) with seeded
    random unit-norm encoder rows and the given JumpReLU threshold; returns its state_dict."""
    generator = torch.Generator().manual_seed(0)
    n_latents = widths[-1]
    weight = F.normalize(torch.randn(n_latents, d_in, generator=generator), dim=1)
    state = {
        "model.encoder.weight": weight,
        "model.encoder.bias": 0.05 * torch.randn(n_latents, generator=generator),
        "model.bias": 0.1 * torch.randn(d_in, generator=generator),
        "model.inference_threshold": torch.tensor(threshold),
        "model._threshold_sum": torch.tensor(8.0),
        "model._threshold_count": torch.tensor(100.0),
    }
    checkpoint = {"state_dict": state, "epoch": 99}
    if with_hparams:
        checkpoint["hyper_parameters"] = {
            "dictionary_sizes": list(widths),
            "k_values": list(ks),
            "input_dim": d_in,
        }
    torch.save(checkpoint, path)
    return state
