"""A tiny slice store in the layout of PIPELINE.md and a tiny DINOv3, for the embedding tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sail_core.data.index import write_index
from tests.fixtures import write_slice_store

SCANS = {
    ("ct", "s0001"): {"axial": 5, "coronal": 3, "sagittal": 4},
    ("ct", "s0002"): {"axial": 6, "coronal": 2, "sagittal": 2},
    ("mri", "s0001"): {"axial": 7},
    ("mri", "s0003"): {"sagittal": 3},
}
SIZE = 32

TINY_DINOV3 = {
    "model_type": "dinov3_vit",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "patch_size": 16,
    "num_register_tokens": 4,
    "image_size": 64,
}


@dataclass
class SliceStore:
    index_path: Path
    slices_dir: Path
    index: pl.DataFrame
    pixels: dict  # (modality, image_id, orientation) -> uint8 (n, S, S)

    def slices_of(self, rows: pl.DataFrame) -> np.ndarray:
        return np.stack(
            [
                self.pixels[m, i, o][p]
                for m, i, o, p in rows.select(
                    "modality", "image_id", "orientation", "array_pos"
                ).iter_rows()
            ]
        )


def build_slice_store(root: Path, seed: int = 0) -> SliceStore:
    rng = np.random.default_rng(seed)
    slices_dir = root / "slices"
    pixels, tables = {}, []
    for (modality, image_id), orientations in SCANS.items():
        rows, scan_pixels = [], {}
        for orientation, n in orientations.items():
            data = rng.integers(0, 256, size=(n, SIZE, SIZE), dtype=np.uint8)
            scan_pixels[orientation] = pixels[modality, image_id, orientation] = data
            first_index = int(rng.integers(0, 40))
            rows += [(modality, image_id, orientation, first_index + k, k) for k in range(n)]
        table = pl.DataFrame(
            rows,
            schema={"modality": pl.Utf8, "image_id": pl.Utf8, "orientation": pl.Utf8,
                    "index": pl.Int32, "array_pos": pl.Int32},
            orient="row",
        )  # fmt: skip
        write_slice_store(slices_dir, modality, image_id, scan_pixels, table)
        tables.append(table)
    index = (
        pl.concat(tables)
        .sort("modality", "image_id", "orientation", "index")
        .with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64), pl.lit("train").alias("split"))
    )
    index_path = slices_dir / "index.parquet"
    write_index(index, index_path)
    return SliceStore(index_path, slices_dir, index, pixels)


@pytest.fixture
def slice_store(tmp_path) -> SliceStore:
    return build_slice_store(tmp_path)


@pytest.fixture
def tiny_dinov3_spec() -> dict:
    return {
        "kind": "random_init",
        "dim": 64,
        "image_size": 64,
        "seed": 3,
        "architecture": dict(TINY_DINOV3),
        "precision": "fp32",
        "batch_size": 8,
        "num_workers": 0,
    }
