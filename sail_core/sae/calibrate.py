"""Post-hoc calibration of the JumpReLU threshold.

Training selects with BatchTopK, whose effective threshold varies from batch to batch. After
training, θ is set on held-out rows so that the inference code z · 1[z > θ] keeps on average the
largest level's k latents per row: with M = k · N, θ is the (M + 1)-th largest pre-activation
over the N rows — the point a bisection on the mean L0 converges to, found exactly. Rows are
streamed; only the running top M + 1 values are kept (pruned below the current floor).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from sail_core.sae.model import MatryoshkaSAE


@torch.no_grad()
def calibrate_threshold(
    model: MatryoshkaSAE, batches: Iterable[Tensor], n_rows: int, k: int
) -> float:
    """θ giving a mean JumpReLU L0 of k over the `n_rows` raw input rows in `batches`.

    0.0 when the rows have k · N or fewer positive pre-activations (every positive one is kept).
    """
    keep = k * n_rows + 1
    pool = torch.empty(0)
    floor = 0.0
    seen = 0
    for x in batches:
        seen += x.shape[0]
        pre = model.preacts(model.normalise(x))
        pool = torch.cat([pool, pre[pre > floor].cpu()])
        if pool.numel() > 2 * keep:
            pool = pool.topk(keep, sorted=False).values
            floor = float(pool.min())
    if seen != n_rows:
        raise ValueError(f"calibration expected {n_rows} rows, got {seen}")
    if pool.numel() < keep:
        return 0.0
    return float(pool.topk(keep, sorted=False).values.min())
