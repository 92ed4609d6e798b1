"""Import of the study's released Lightning checkpoints (e.g. pwesp/sail `biomedparse_sae.ckpt`).

The checkpoint is `torch.save({"state_dict": {...}, "hyper_parameters": {...}})` with
`model.encoder.weight` (D, d), `model.encoder.bias` (D), `model.bias` (d, the decoder bias
subtracted before encoding) and `model.inference_threshold` (scalar); the hyper-parameters name
`dictionary_sizes` and `k_values`.

Semantic differences, also written into the converted config.json under `conversion`:
- tied weights: the study decodes with W_enc^T. Our W_dec starts as a copy of W_enc's rows, so
  reconstructions are identical; the two matrices are separate parameters from here on. The
  study never renormalised its decoder after initialisation, so rows are not unit norm.
- threshold: the study's inference is a shifted ReLU max(0, z - θ); ours is the JumpReLU
  z · 1[z > θ] with the same θ. The set of active latents is identical, every active value is
  larger by θ, and reconstructions differ accordingly (ours match how the decoder was trained).
- inputs: the study L2-normalised every embedding; the converted model has `input_norm: l2`.
- the study's nested levels were trained with per-level BatchTopK (variant `nested_k`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from sail_core.sae.config import SaeSpec, parse_sae_name
from sail_core.sae.export import save_sae
from sail_core.sae.model import MatryoshkaSAE

STUDY_KEYS = (
    "model.encoder.weight",
    "model.encoder.bias",
    "model.bias",
    "model.inference_threshold",
)
DIFFERENCES = {
    "weights": "tied in the study (decoder = encoder^T); W_dec initialised as a copy of W_enc",
    "threshold": "study: shifted ReLU max(0, z - theta); here: JumpReLU z * 1[z > theta], same theta",
    "inputs": "study L2-normalised each embedding; input_norm = l2",
    "decoder_norm": "study renormalised decoder rows only at initialisation",
}


def _spec_of(checkpoint: dict, name: str | None, path: Path) -> SaeSpec:
    if name is not None:
        return parse_sae_name(name)
    hparams = checkpoint.get("hyper_parameters") or {}
    if "dictionary_sizes" not in hparams or "k_values" not in hparams:
        raise ValueError(f"{path}: no dictionary_sizes/k_values in hyper_parameters; give the name")
    return SaeSpec(tuple(hparams["dictionary_sizes"]), tuple(hparams["k_values"]))


def convert_study_checkpoint(
    path: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None
) -> MatryoshkaSAE:
    """Convert the study checkpoint at `path` into our format in `out_dir`; returns the model."""
    path = Path(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("state_dict", checkpoint)
    missing = [key for key in STUDY_KEYS if key not in state]
    if missing:
        raise ValueError(f"{path}: not a study SAE checkpoint, missing {missing}")
    spec = _spec_of(checkpoint, name, path)
    weight = state["model.encoder.weight"].float()
    if weight.shape[0] != spec.n_latents:
        raise ValueError(
            f"{path}: encoder has {weight.shape[0]} latents, {spec.name} needs {spec.n_latents}"
        )
    model = MatryoshkaSAE(spec, weight.shape[1], selection="batch", input_norm="l2")
    with torch.no_grad():
        model.W_enc.copy_(weight)
        model.W_dec.copy_(weight)
        model.b_enc.copy_(state["model.encoder.bias"].float())
        model.b_dec.copy_(state["model.bias"].float())
        model.threshold.fill_(float(state["model.inference_threshold"]))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    save_sae(
        model,
        out_dir,
        {
            "conversion": {
                "source": str(path),
                "sha256": digest,
                "format": "sail-lightning",
                **DIFFERENCES,
            }
        },
    )
    return model.eval()
