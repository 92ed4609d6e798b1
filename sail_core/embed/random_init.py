"""Randomly initialised baselines: any supported transformers architecture from a config dict,
initialised as the study's random baseline (see `reinit`)."""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModel, PreTrainedModel

from sail_core.embed.encoder import Encoder, EncoderError
from sail_core.embed.hf import check_model_type, transformer_encoder
from sail_core.embed.reinit import seeded_random_model


def build_random_transformer(encoder: str, architecture: dict, seed: int) -> PreTrainedModel:
    options = dict(architecture)
    model_type = options.pop("model_type", None)
    check_model_type(encoder, model_type, "architecture")
    # transformers keeps unknown keys as plain attributes, so a typo would go unnoticed
    unknown = sorted(set(options) - set(AutoConfig.for_model(model_type).to_dict()))
    if unknown:
        raise EncoderError(encoder, f"architecture has unknown key(s) {', '.join(unknown)}")
    try:
        config = AutoConfig.for_model(model_type, **options)
    except (TypeError, ValueError) as err:
        raise EncoderError(encoder, f"invalid architecture {architecture}: {err}") from err
    return seeded_random_model(lambda: AutoModel.from_config(config), seed)


def build(name: str, spec: dict, device: torch.device, precision: str) -> Encoder:
    architecture = spec["architecture"]
    model = build_random_transformer(name, architecture, spec["seed"])
    provenance = {
        "model_id": f"random-init/{architecture['model_type']}",
        "revision": None,
        "architecture": architecture,
        "seed": spec["seed"],
    }
    return transformer_encoder(name, "random_init", model, spec, device, precision, provenance)
