"""The one interface every embedding model is used through."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from sail_core.embed.preprocessing import Preprocessing


class EncoderError(ValueError):
    """A problem with an encoder's model or output, naming the encoder (and shard when known)."""

    def __init__(self, encoder: str, reason: str, shard: int | None = None):
        self.encoder = encoder
        self.shard = shard
        self.reason = reason
        where = f"encoder {encoder!r}" + (f", shard {shard}" if shard is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass
class Encoder:
    """Turns grey uint8 slices (n, H, W) into float32 embeddings (n, dim); `dim` is the one
    configured, and every shard checks the model's output against it.

    `model` maps preprocessed pixels (n, 3, S, S) to pooled features (n, dim); everything that
    makes one kind of encoder differ from another lives in that module and in `preprocessing`.
    `provenance` (model id, revision, pooling, ...) goes into the attrs of every output.
    """

    name: str
    kind: str
    model: nn.Module
    dim: int
    preprocessing: Preprocessing
    device: torch.device
    precision: str
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.model.eval().requires_grad_(False).to(self.device)

    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """The bare forward pass on preprocessed pixels already on the device."""
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
            ),
        ):
            return self.model(pixels).float()

    def encode(self, slices: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 (n, H, W) on any device -> float32 (n, dim) on the encoder's device."""
        with torch.inference_mode():
            pixels = self.preprocessing(torch.as_tensor(slices).to(self.device, non_blocking=True))
        return self.embed_pixels(pixels)

    def attrs(self) -> dict:
        return {
            "encoder": self.name,
            "kind": self.kind,
            "dim": self.dim,
            "precision": self.precision,
            "preprocessing": self.preprocessing.describe(),
            **self.provenance,
        }
