"""Encoders from config: `build_encoder(name, spec)` for every kind named by `spec["kind"]`.

Each kind's module (and so its third-party dependencies) is imported only when an encoder of that
kind is built: the BiomedParse env, for one, has neither transformers 5 nor EfficientNet.
"""

from __future__ import annotations

import importlib

import torch

from sail_core.embed.encoder import Encoder, EncoderError
from sail_core.embed.precision import PRECISIONS, default_device, resolve_precision

REQUIRED = object()

COMMON_KEYS = {"kind": REQUIRED, "dim": REQUIRED, "precision": "auto", "batch_size": 32,
               "num_workers": 2}  # fmt: skip

KIND_KEYS = {
    "hf": {"model_dir": REQUIRED, "image_size": REQUIRED, "pooling": "cls", "model_id": None,
           "revision": None},
    "random_init": {"architecture": REQUIRED, "image_size": REQUIRED, "seed": REQUIRED,
                    "pooling": "cls"},
    "efficientnet_lite0": {"image_size": 224},
    "biomedparse": {"repo_dir": REQUIRED, "checkpoint": None,
                    "config_file": "configs/biomedparse_inference.yaml", "image_size": 1024,
                    "model_id": "microsoft/BiomedParse", "revision": None, "random_init": False,
                    "seed": 42},
}  # fmt: skip

KIND_MODULES = {
    "hf": "sail_core.embed.hf",
    "random_init": "sail_core.embed.random_init",
    "efficientnet_lite0": "sail_core.embed.efficientnet",
    "biomedparse": "sail_core.embed.biomedparse",
}


def resolve_spec(name: str, spec: dict) -> dict:
    """`spec` with defaults filled in; a clear error for a missing key or a bad value."""
    kind = spec.get("kind")
    if kind not in KIND_KEYS:
        raise EncoderError(name, f"unknown kind {kind!r}; known kinds: {', '.join(KIND_KEYS)}")
    known = {**COMMON_KEYS, **KIND_KEYS[kind]}
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise EncoderError(name, f"unknown key(s) for kind {kind}: {', '.join(unknown)}")
    resolved = {}
    for key, default in known.items():
        if key not in spec and default is REQUIRED:
            raise EncoderError(name, f"an encoder of kind {kind} needs the key {key!r}")
        resolved[key] = spec.get(key, default)
    if resolved["precision"] not in PRECISIONS:
        raise EncoderError(name, f"precision must be one of {', '.join(PRECISIONS)}")
    for key in ("dim", "image_size", "batch_size"):
        if not isinstance(resolved[key], int) or resolved[key] < 1:
            raise EncoderError(name, f"{key} must be a positive integer, got {resolved[key]!r}")
    return resolved


def build_encoder(name: str, spec: dict, device: torch.device | None = None) -> Encoder:
    spec = resolve_spec(name, spec)
    device = device or default_device()
    precision = resolve_precision(spec["precision"], device)
    module = importlib.import_module(KIND_MODULES[spec["kind"]])
    return module.build(name, spec, device, precision)
