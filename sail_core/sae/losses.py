"""Training objective: the batch's fraction of unexplained variance, per reconstruction level.

Normalising the squared error by the batch's per-dimension variance makes the loss independent
of the input scale (unit-norm inputs under `l2`, E||x||² = d under `center_scale`), so the
learning rate transfers between normalisations and encoders. AuxK uses the same reduction.
The gradient is written out so that the (L, B, d) residual is formed once.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _UnexplainedVariance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, target: Tensor, recon: Tensor) -> Tensor:
        centred = target - target.mean(dim=0, keepdim=True)
        total = torch.linalg.vector_norm(centred).pow(2).clamp_min(1e-12)
        residual = recon - target
        flat = residual.reshape(-1, residual.shape[-2] * residual.shape[-1])
        ctx.save_for_backward(residual, total)
        return torch.linalg.vector_norm(flat, dim=1).pow(2).view(residual.shape[:-2]) / total

    @staticmethod
    def backward(ctx, grad: Tensor):
        residual, total = ctx.saved_tensors
        scaled = residual * (2 * grad / total)[..., None, None]
        return None, scaled


def unexplained_variance(target: Tensor, recon: Tensor) -> Tensor:
    """sum (target - recon)^2 / sum (target - batch mean)^2 over the last two axes.

    `recon` may carry leading level axes (L, B, d); the result then has shape (L,). Only
    `recon` receives a gradient (the target is data or a detached residual).
    """
    return _UnexplainedVariance.apply(target, recon)
