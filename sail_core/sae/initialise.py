"""Data-dependent initialisation: input normalisation statistics and the decoder bias."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sail_core.sae.data import iter_row_chunks
from sail_core.sae.model import MatryoshkaSAE

GEOMETRIC_MEDIAN_ITERATIONS = 100
BIAS_SAMPLE_ROWS = 32768


def fit_input_normalisation(model: MatryoshkaSAE, view, rows: np.ndarray, chunk_rows: int) -> None:
    """`center_scale`: train mean and the scalar making E||x - mean||² = d (float64 sums)."""
    if model.input_norm != "center_scale":
        return
    total = np.zeros(view.shape[1])
    total_sq_norm = 0.0
    for _, chunk in iter_row_chunks(view, rows, chunk_rows):
        total += chunk.sum(axis=0, dtype=np.float64)
        total_sq_norm += float((chunk.astype(np.float64) ** 2).sum())
    mean = total / rows.size
    centred_sq_norm = total_sq_norm / rows.size - float(mean @ mean)
    if centred_sq_norm <= 0:
        raise ValueError("all train rows are identical: the input cannot be scaled")
    scale = float(np.sqrt(view.shape[1] / centred_sq_norm))
    model.set_input_normalisation(torch.from_numpy(mean).float(), scale)


def geometric_median(points: Tensor, iterations: int = GEOMETRIC_MEDIAN_ITERATIONS) -> Tensor:
    """Weiszfeld iterations from the mean (float64)."""
    points = points.double()
    median = points.mean(dim=0)
    for _ in range(iterations):
        weights = 1.0 / (points - median).norm(dim=1).clamp_min(1e-12)
        median = (weights[:, None] * points).sum(dim=0) / weights.sum()
    return median


def init_decoder_bias(model: MatryoshkaSAE, sample: Tensor, how: str) -> None:
    """b_dec from model-space rows: their mean, geometric median, or zero."""
    with torch.no_grad():
        if how == "zero":
            model.b_dec.zero_()
        elif how == "mean":
            model.b_dec.copy_(sample.double().mean(dim=0))
        else:
            model.b_dec.copy_(geometric_median(sample))


def bias_sample_positions(n_rows: int, seed: int) -> Tensor:
    """Sorted positions of at most BIAS_SAMPLE_ROWS train rows, chosen with the seed."""
    if n_rows <= BIAS_SAMPLE_ROWS:
        return torch.arange(n_rows)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_rows, generator=generator)[:BIAS_SAMPLE_ROWS].sort().values
