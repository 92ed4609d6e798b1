"""Grey uint8 slices -> normalised 3-channel pixel tensors, on whatever device the model is.

The steps are those of the HF DINOv3 image processor (rescale by 1/255, bilinear resize with
antialiasing, per-channel mean/std); grey slices are replicated to the three channels the
encoders expect. Running them on the model's device keeps the host-to-GPU copy at one byte per
native pixel instead of twelve per resized pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF_MEAN = (0.5, 0.5, 0.5)
HALF_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Preprocessing:
    image_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(self, slices: torch.Tensor) -> torch.Tensor:
        """uint8 (n, H, W) -> float32 (n, 3, image_size, image_size)."""
        if slices.dtype != torch.uint8 or slices.ndim != 3:
            raise ValueError(
                f"expected uint8 slices of shape (n, H, W), got {slices.dtype} {tuple(slices.shape)}"
            )
        pixels = slices.unsqueeze(1).float() / 255.0
        size = (self.image_size, self.image_size)
        if pixels.shape[-2:] != size:
            # antialiasing only changes a downscale (upscaled, its kernel is plain bilinear),
            # and costs twice the time
            shrinks = max(pixels.shape[-2:]) > self.image_size
            pixels = F.interpolate(
                pixels, size=size, mode="bilinear", align_corners=False, antialias=shrinks
            )
        mean = torch.tensor(self.mean, device=pixels.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=pixels.device).view(1, 3, 1, 1)
        return (pixels - mean) / std

    def describe(self) -> dict:
        return {
            "rescale": "1/255",
            "resize": f"bilinear antialias to {self.image_size}x{self.image_size}",
            "channels": "grey replicated to 3",
            "mean": list(self.mean),
            "std": list(self.std),
        }
