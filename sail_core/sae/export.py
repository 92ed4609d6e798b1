"""The on-disk SAE format: model.safetensors + config.json in one directory.

model.safetensors holds W_enc (D, d), b_enc (D), W_dec (D, d), b_dec (d), threshold (scalar),
input_mean (d) and input_scale (scalar). config.json holds the structure (`name`, `widths`, `ks`,
`variant`, `d_in`, `n_latents`, `input_norm`, `selection`) plus provenance. `load_sae` returns a
model whose `encode` is the calibrated JumpReLU on raw embeddings.
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from sail_core.io import atomic_output, read_json, write_json
from sail_core.sae.config import SaeSpec
from sail_core.sae.model import MatryoshkaSAE

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def structure_config(model: MatryoshkaSAE) -> dict:
    spec = model.spec
    return {
        "name": spec.name,
        "variant": spec.variant,
        "widths": list(spec.widths),
        "ks": list(spec.ks),
        "d_in": model.d_in,
        "n_latents": model.n_latents,
        "input_norm": model.input_norm,
        "selection": model.selection,
        "threshold": float(model.threshold),
        "activation": "jumprelu: z * 1[z > threshold], z = W_enc (x - b_dec) + b_enc",
    }


def save_sae(model: MatryoshkaSAE, directory: str | os.PathLike, extra: dict | None = None) -> None:
    """Write model.safetensors and config.json (structure + `extra`) atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    with atomic_output(directory / MODEL_FILE) as tmp:
        save_file(tensors, str(tmp))
    write_json(directory / CONFIG_FILE, {**(extra or {}), **structure_config(model)})


def load_sae(directory: str | os.PathLike, device: str = "cpu") -> MatryoshkaSAE:
    directory = Path(directory)
    config = read_json(directory / CONFIG_FILE)
    spec = SaeSpec(tuple(config["widths"]), tuple(config["ks"]))
    model = MatryoshkaSAE(spec, config["d_in"], config["selection"], config["input_norm"])
    model.load_state_dict(load_file(str(directory / MODEL_FILE)))
    return model.requires_grad_(False).to(device).eval()
