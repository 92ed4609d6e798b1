"""DINO-family vision transformers through HF transformers `AutoModel`, from a local folder.

The pipeline never downloads at run time: `model_dir` is a folder written by `save_pretrained`
or by the `download_model` rule.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

from sail_core.embed.encoder import Encoder, EncoderError
from sail_core.embed.preprocessing import Preprocessing

# Models whose token layout is known: CLS first, then `num_register_tokens` registers, then
# patches, and whose `pooler_output` is the CLS token after the final LayerNorm.
SUPPORTED_MODEL_TYPES = ("dinov2", "dinov2_with_registers", "dinov3_vit")
POOLINGS = ("cls", "patch_mean")


class PooledTransformer(nn.Module):
    """A DINO-family transformer reduced to one vector per image.

    "cls": `pooler_output`, the normalised CLS token. "patch_mean": mean of the normalised patch
    tokens, CLS and register tokens excluded.
    """

    def __init__(self, model: PreTrainedModel, pooling: str):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.model = model
        self.pooling = pooling
        self.prefix_tokens = 1 + getattr(model.config, "num_register_tokens", 0)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        output = self.model(pixel_values=pixels)
        if self.pooling == "cls":
            return output.pooler_output
        return output.last_hidden_state[:, self.prefix_tokens :].mean(dim=1)


def check_model_type(encoder: str, model_type: str | None, source: str) -> None:
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise EncoderError(
            encoder,
            f"{source} describes a {model_type!r} model; supported model types: "
            + ", ".join(SUPPORTED_MODEL_TYPES),
        )


def load_pretrained(encoder: str, model_dir: str | Path) -> PreTrainedModel:
    path = Path(model_dir)
    if not path.is_dir():
        raise EncoderError(
            encoder,
            f"model directory {path} does not exist (point model_dir at a local copy or "
            "fetch one with the download_model rule)",
        )
    if not (path / "config.json").is_file():
        raise EncoderError(encoder, f"{path} has no config.json: not a transformers model folder")
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    check_model_type(encoder, config.model_type, str(path / "config.json"))
    try:
        return AutoModel.from_pretrained(path, config=config, local_files_only=True)
    except (OSError, ValueError) as err:
        raise EncoderError(encoder, f"cannot load the weights in {path}: {err}") from err


def transformer_encoder(
    name: str,
    kind: str,
    model: PreTrainedModel,
    spec: dict,
    device: torch.device,
    precision: str,
    provenance: dict,
) -> Encoder:
    try:
        pooled = PooledTransformer(model, spec["pooling"])
    except ValueError as err:
        raise EncoderError(name, str(err)) from err
    return Encoder(
        name=name,
        kind=kind,
        model=pooled,
        dim=spec["dim"],
        preprocessing=Preprocessing(spec["image_size"]),
        device=device,
        precision=precision,
        provenance={"pooling": spec["pooling"], **provenance},
    )


def build(name: str, spec: dict, device: torch.device, precision: str) -> Encoder:
    model = load_pretrained(name, spec["model_dir"])
    provenance = {
        "model_id": spec["model_id"] or Path(spec["model_dir"]).name,
        "revision": spec["revision"],
        "model_dir": str(spec["model_dir"]),
    }
    return transformer_encoder(name, "hf", model, spec, device, precision, provenance)
