"""Matryoshka BatchTopK sparse autoencoders: model, training, calibration, codes, import."""

from sail_core.sae.codes import CodeStore, encode_codes, write_code_store
from sail_core.sae.config import SaeSpec, TrainConfig, format_sae_name, parse_sae_name
from sail_core.sae.convert import convert_study_checkpoint
from sail_core.sae.export import load_sae, save_sae
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.run import train_sae

__all__ = [
    "CodeStore",
    "MatryoshkaSAE",
    "SaeSpec",
    "TrainConfig",
    "convert_study_checkpoint",
    "encode_codes",
    "format_sae_name",
    "load_sae",
    "parse_sae_name",
    "save_sae",
    "train_sae",
    "write_code_store",
]
