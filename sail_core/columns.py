"""Identities and column conventions shared by every stage."""

from __future__ import annotations

import hashlib

import polars as pl

ORIENTATIONS = ("axial", "coronal", "sagittal")
MODALITIES = ("ct", "mri")
SCAN_KEY = ("modality", "image_id")
SLICE_KEY = ("modality", "image_id", "orientation", "index")
STRUCTURE_PREFIX = "structure_"
REGION_PREFIX = "region_"
SPLITS = ("train", "val", "test")


def scan_id(modality: str, image_id: str) -> str:
    return f"{modality}/{image_id}"


def parse_scan_id(value: str) -> tuple[str, str]:
    modality, _, image_id = value.partition("/")
    if modality not in MODALITIES or not image_id:
        raise ValueError(f"not a scan id of the form 'ct/s0001': {value!r}")
    return modality, image_id


def structure_columns(df: pl.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith(STRUCTURE_PREFIX))


def region_columns(df: pl.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith(REGION_PREFIX))


def index_hash(df: pl.DataFrame) -> str:
    """Content hash of the slice keys in row order; aligned arrays carry it in their attrs."""
    keys = df.select(
        pl.concat_str([pl.col(c).cast(pl.Utf8) for c in SLICE_KEY], separator="|")
    ).to_series()
    digest = hashlib.sha256("\n".join(keys.to_list()).encode())
    return digest.hexdigest()[:16]
