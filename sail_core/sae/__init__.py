"""Matryoshka BatchTopK sparse autoencoders: model, training, calibration, codes, import.

The names below load on first use, so a job that only reads codes does not import torch.
"""

from importlib import import_module

_HOME = {
    "CodeStore": "sail_core.sae.codes",
    "MatryoshkaSAE": "sail_core.sae.model",
    "SaeSpec": "sail_core.sae.config",
    "TrainConfig": "sail_core.sae.config",
    "convert_study_checkpoint": "sail_core.sae.convert",
    "encode_codes": "sail_core.sae.codes",
    "format_sae_name": "sail_core.sae.config",
    "load_sae": "sail_core.sae.export",
    "parse_sae_name": "sail_core.sae.config",
    "save_sae": "sail_core.sae.export",
    "train_sae": "sail_core.sae.run",
    "write_code_store": "sail_core.sae.codes",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_HOME[name]), name)
    globals()[name] = value
    return value
