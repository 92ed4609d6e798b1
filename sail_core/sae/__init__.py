"""Matryoshka BatchTopK sparse autoencoders: model, training, calibration, codes, import."""

from sail_core.sae.codes import encode_codes, iter_code_chunks, open_codes
from sail_core.sae.config import SaeSpec, TrainConfig, format_sae_name, parse_sae_name
from sail_core.sae.convert import convert_study_checkpoint
from sail_core.sae.export import load_sae, save_sae
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.run import train_sae

__all__ = [
    "MatryoshkaSAE",
    "SaeSpec",
    "TrainConfig",
    "convert_study_checkpoint",
    "encode_codes",
    "format_sae_name",
    "iter_code_chunks",
    "load_sae",
    "open_codes",
    "parse_sae_name",
    "save_sae",
    "train_sae",
]
