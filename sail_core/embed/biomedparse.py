"""BiomedParse v1 as an encoder: only its image backbone (FocalNet) runs, and the embedding is
the token mean of the output of the backbone's last-stage norm layer `norm3` (1536-d), as in
the study.

BiomedParse is no installable package and pins old dependencies: it runs from a clone of its
repository, in its own conda env (envs/biomedparse.yaml). Only `load_biomedparse_backbone`
touches that code; everything else works on any module with the same interface.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

from sail_core.embed.encoder import Encoder, EncoderError
from sail_core.embed.preprocessing import Preprocessing
from sail_core.embed.reinit import seeded_random_model


class Norm3MeanPool(nn.Module):
    """Runs `backbone(pixels)` and averages what its `norm3` layer produced over the tokens."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        if not hasattr(getattr(backbone, "norm3", None), "normalized_shape"):
            raise ValueError("the backbone has no LayerNorm named norm3")
        self.backbone = backbone
        self._norm3_output: torch.Tensor | None = None
        backbone.norm3.register_forward_hook(self._keep_norm3_output)

    def _keep_norm3_output(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._norm3_output = output

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        self._norm3_output = None
        self.backbone(pixels)
        tokens, self._norm3_output = self._norm3_output, None
        if tokens is None:
            raise RuntimeError("the backbone's forward pass did not run its norm3 layer")
        # (B, L, C) as in FocalNet; a channels-last map (B, H, W, C) pools the same way
        return tokens.flatten(1, -2).mean(dim=1)


def biomedparse_encoder(
    name: str,
    backbone: nn.Module,
    image_size: int,
    dim: int,
    device: torch.device,
    precision: str,
    provenance: dict,
) -> Encoder:
    return Encoder(
        name=name,
        kind="biomedparse",
        model=Norm3MeanPool(backbone),
        dim=dim,
        # the study normalises in the 0-255 scale with mean (123.675, 116.28, 103.53) and std
        # (58.395, 57.12, 57.375): the ImageNet statistics, our default
        preprocessing=Preprocessing(image_size),
        device=device,
        precision=precision,
        provenance={"pooling": "norm3_token_mean", **provenance},
    )


def load_biomedparse_backbone(
    encoder: str,
    repo_dir: str | Path,
    config_file: str,
    checkpoint: str | Path | None,
    random_seed: int | None,
) -> nn.Module:
    """The FocalNet backbone of BiomedParse v1, pretrained, or randomly initialised when a
    `random_seed` is given. Needs the biomedparse env and a clone of the BiomedParse v1 code."""
    repo = Path(repo_dir)
    if not (repo / "modeling").is_dir() or not (repo / "utilities").is_dir():
        raise EncoderError(
            encoder, f"repo_dir {repo} is not a BiomedParse v1 clone (no modeling/, utilities/)"
        )
    if random_seed is None and (checkpoint is None or not Path(checkpoint).is_file()):
        raise EncoderError(encoder, f"BiomedParse checkpoint {checkpoint} does not exist")
    sys.path.insert(0, str(repo))  # its top-level packages live in the clone, not in the env
    from modeling import build_model
    from modeling.BaseModel import BaseModel
    from utilities.arguments import load_opt_from_config_files
    from utilities.distributed import init_distributed

    opt = init_distributed(load_opt_from_config_files([str(repo / config_file)]))
    if random_seed is not None:
        model = seeded_random_model(lambda: BaseModel(opt, build_model(opt)), random_seed)
    else:
        model = BaseModel(opt, build_model(opt)).from_pretrained(str(checkpoint))
    return model.model.backbone


def build(name: str, spec: dict, device: torch.device, precision: str) -> Encoder:
    seed = spec["seed"] if spec["random_init"] else None
    backbone = load_biomedparse_backbone(
        name, spec["repo_dir"], spec["config_file"], spec["checkpoint"], seed
    )
    if seed is None:
        provenance = {"model_id": spec["model_id"], "revision": spec["revision"]}
    else:
        provenance = {"model_id": "random-init/biomedparse", "revision": None, "seed": seed}
    return biomedparse_encoder(
        name, backbone, spec["image_size"], spec["dim"], device, precision, provenance
    )
