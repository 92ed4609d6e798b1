"""Dead latents and the AuxK loss that revives them.

A latent is dead once `window` training samples have passed since it was last selected. AuxK
lets the dead latents' top-k_aux positive pre-activations (per sample) reconstruct the main
reconstruction's residual. The residual is detached and b_dec is not trained through it, so
only the dead latents' encoder rows, encoder biases and decoder rows receive gradient. Scaled
by min(n_dead / k_aux, 1), and exactly 0 with no dead latent.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sail_core.sae.losses import unexplained_variance
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.sparse import gather_preacts, sample_topk, sparse_decode, stack_blocks


class DeadLatentTracker:
    """Samples seen since each latent last fired; dead = at least `window` samples."""

    def __init__(self, n_latents: int, window: int, device: torch.device | str = "cpu") -> None:
        self.window = window
        self.samples_since_fired = torch.zeros(n_latents, dtype=torch.int64, device=device)

    def update(self, fired_latents: Tensor, n_samples: int) -> None:
        self.samples_since_fired += n_samples
        self.samples_since_fired[fired_latents] = 0

    def dead_mask(self) -> Tensor:
        return self.samples_since_fired >= self.window

    def state_dict(self) -> dict:
        return {"window": self.window, "samples_since_fired": self.samples_since_fired.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.window = state["window"]
        self.samples_since_fired.copy_(state["samples_since_fired"])


def auxk_loss(
    model: MatryoshkaSAE, x: Tensor, pre: Tensor, residual: Tensor, dead: Tensor, k_aux: int
) -> Tensor:
    """Scaled AuxK loss for model-space inputs x, their pre-activations and the residual."""
    dead_latents = dead.nonzero().squeeze(1)
    n_dead = dead_latents.numel()
    if n_dead == 0:
        return x.new_zeros(())
    batch, n_latents = pre.shape
    local = sample_topk(pre[:, dead_latents], n_dead, min(k_aux, n_dead))
    rows = torch.div(local, n_dead, rounding_mode="floor")
    flat = rows * n_latents + dead_latents[local - rows * n_dead]
    code = stack_blocks([flat], batch, n_latents)
    b_dec = model.b_dec.detach()
    low = model.compute_dtype
    values = gather_preacts(x, model.W_enc, model.b_enc, b_dec, pre, code, low)
    recon = sparse_decode(values, model.W_dec, code, low)[0]
    scale = min(n_dead / k_aux, 1.0)
    return scale * unexplained_variance(residual.detach(), recon)
