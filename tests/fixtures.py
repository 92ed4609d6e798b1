"""Test data shared across test packages, written in the formats the project reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from sail_core.data.dataset import build_subjects
from sail_core.data.phantom import generate_phantom
from sail_core.data.slicing import SlicedScan, SlicingParams, slice_scan, write_scan


def write_study_checkpoint(
    path,
    d_in: int,
    widths: list[int],
    ks: list[int],
    with_hparams: bool = True,
    threshold: float = 0.08,
) -> dict:
    """A checkpoint in the study's Lightning layout (see sail_core.sae.convert) with seeded
    random unit-norm encoder rows and the given JumpReLU threshold; returns its state_dict."""
    generator = torch.Generator().manual_seed(0)
    n_latents = widths[-1]
    weight = F.normalize(torch.randn(n_latents, d_in, generator=generator), dim=1)
    state = {
        "model.encoder.weight": weight,
        "model.encoder.bias": 0.05 * torch.randn(n_latents, generator=generator),
        "model.bias": 0.1 * torch.randn(d_in, generator=generator),
        "model.inference_threshold": torch.tensor(threshold),
        "model._threshold_sum": torch.tensor(8.0),
        "model._threshold_count": torch.tensor(100.0),
    }
    checkpoint = {"state_dict": state, "epoch": 99}
    if with_hparams:
        checkpoint["hyper_parameters"] = {
            "dictionary_sizes": list(widths),
            "k_values": list(ks),
            "input_dim": d_in,
        }
    torch.save(checkpoint, path)
    return state


def write_slice_store(
    slices_dir: Path,
    modality: str,
    image_id: str,
    slices: dict[str, np.ndarray],
    table: pl.DataFrame,
) -> None:
    """A scan's slice store ((n, S, S) uint8 per orientation) and slice table under `slices_dir`,
    written by the slicing stage's own writer."""
    size = next(iter(slices.values())).shape[-1]
    attrs = {
        "modality": modality,
        "image_id": image_id,
        "quarantined": False,
        "slicing": {"size": size},
        "orientations": sorted(slices),
    }
    write_scan(
        SlicedScan(modality, image_id, slices, table, attrs),
        slices_dir / modality / f"{image_id}.zarr",
        slices_dir / modality / f"{image_id}.parquet",
    )


PHANTOM_TINY = {
    "ct_matrix": 32,
    "ct_max_slices": 48,
    "mri_matrix": 24,
    "mri_slice_thickness_mm": 12.0,
}


def phantom_slice_table(root: Path, seed: int) -> pl.DataFrame:
    """The slice table (keys, metadata, structure presence) of a tiny generated phantom of 8 CT
    and 2 MRI scans sliced at 8 px, through the real slicing stage."""
    generate_phantom(root / "ct", root / "mri", n_ct=8, n_mri=2, seed=seed, **PHANTOM_TINY)
    scans = build_subjects({"ct": root / "ct", "mri": root / "mri"})
    tables = [
        slice_scan(
            scan["modality"],
            scan["image_id"],
            scan["image_path"],
            scan["segmentation_dir"],
            scan["study_type"],
            SlicingParams(size=8),
        ).table
        for scan in scans.iter_rows(named=True)
    ]
    return pl.concat(tables, how="diagonal_relaxed").fill_null(False)
