"""A synthetic slice index and SAE codes with planted organ features, for tests and benchmarks.

Every slice sits at a body height in [0, 1]; a structure is present when the height falls in
its band (shifted a little per scan). A planted feature fires exactly on the slices containing
its structure; the other latents fire at random, so each row has about `k` active latents.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from sail_core.columns import REGION_PREFIX, SLICE_KEY, STRUCTURE_PREFIX
from sail_core.data.anatomy import REGION_OF

BANDS = {
    "brain": (0.90, 1.00),
    "clavicula_left": (0.70, 0.76),
    "clavicula_right": (0.70, 0.76),
    "sternum": (0.55, 0.72),
    "heart": (0.55, 0.68),
    "liver": (0.42, 0.58),
    "spleen": (0.45, 0.55),
    "gallbladder": (0.44, 0.49),
    "kidney_left": (0.35, 0.45),
    "kidney_right": (0.34, 0.44),
    "prostate": (0.10, 0.15),
}
INSTITUTES = tuple("ABCDEFGHIJ")
MANUFACTURERS = ("ge", "philips", "siemens")
SCANNERS = {"ge": "Revolution", "philips": "Achieva", "siemens": "Skyra"}
PATHOLOGIES = ("no_pathology", "tumor", "inflammation", "trauma")


def _age_bin(age: float) -> str:
    return "<40" if age <= 40 else "40-60" if age <= 60 else "60-80" if age <= 80 else ">=80"


def synthetic_scans(n_scans: int, seed: int, test_institutes=("A", "D", "E")) -> pl.DataFrame:
    """One row per scan; CT and MRI reuse image ids, test = the held-out institutes."""
    rng = np.random.default_rng(seed)
    records = []
    for position in range(n_scans):
        modality = "ct" if position % 3 else "mri"
        institute = INSTITUTES[rng.integers(len(INSTITUTES))]
        manufacturer = MANUFACTURERS[rng.integers(len(MANUFACTURERS))]
        age = float(rng.integers(18, 95))
        records.append(
            {
                "modality": modality,
                "image_id": f"s{position // 2:04d}",
                "gender": "f" if rng.random() < 0.5 else "m",
                "age": age,
                "age_bin": _age_bin(age),
                "institute": institute,
                "manufacturer": manufacturer,
                "scanner_model": SCANNERS[manufacturer],
                "kvp": float(rng.choice([80.0, 100.0, 120.0])) if modality == "ct" else None,
                "pathology": PATHOLOGIES[rng.integers(len(PATHOLOGIES))]
                if modality == "ct"
                else None,
                "shift": float(rng.normal(0, 0.02)),
            }
        )
    scans = pl.DataFrame(records).unique(["modality", "image_id"], keep="first")
    held_out = scans["institute"].is_in(list(test_institutes))
    val = pl.Series(rng.random(scans.height) < 0.2)
    return scans.with_columns(
        pl.when(held_out)
        .then(pl.lit("test"))
        .when(val)
        .then(pl.lit("val"))
        .otherwise(pl.lit("train"))
        .alias("split")
    )


def synthetic_index(n_rows: int, n_scans: int, seed: int) -> pl.DataFrame:
    """A slice index in the layout of results/slices/index.parquet (row_id = position)."""
    rng = np.random.default_rng(seed)
    scans = synthetic_scans(n_scans, seed)
    scan_of_row = np.sort(rng.integers(0, scans.height, n_rows))
    rows = scans[scan_of_row].with_columns(
        pl.Series("height", rng.random(n_rows)),
        pl.Series("orientation", rng.choice(["axial", "coronal", "sagittal"], n_rows)),
    )
    rows = rows.with_columns(
        pl.when(pl.col("modality") == "mri")
        .then(pl.lit("axial"))
        .otherwise(pl.col("orientation"))
        .alias("orientation")
    )
    presence = {}
    for structure, (low, high) in BANDS.items():
        height = rows["height"] + rows["shift"]
        presence[f"{STRUCTURE_PREFIX}{structure}"] = (height >= low) & (height <= high)
    regions = {}
    for structure in BANDS:
        column = f"{REGION_PREFIX}{REGION_OF[structure]}"
        found = presence[f"{STRUCTURE_PREFIX}{structure}"]
        regions[column] = regions[column] | found if column in regions else found
    rows = rows.with_columns(
        *[s.alias(name) for name, s in presence.items()],
        *[s.alias(name) for name, s in regions.items()],
    )
    position = pl.int_range(pl.len(), dtype=pl.Int32).over("modality", "image_id", "orientation")
    rows = (
        rows.sort("modality", "image_id", "orientation", "height")
        .with_columns(position.alias("index"), position.alias("array_pos"))
        .sort(list(SLICE_KEY))
    )
    return rows.drop("shift").with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))


def planted_codes(
    index: pl.DataFrame, n_latents: int, k: int, planted: dict[str, int], seed: int
) -> sp.csr_matrix:
    """CSR codes: feature planted[s] fires (0.5..1) exactly on rows with structure s; every row
    also gets about k - len(planted) random latents outside the planted ones (0..0.5)."""
    rng = np.random.default_rng(seed)
    n_rows = index.height
    free = np.setdiff1d(np.arange(n_latents), list(planted.values()))
    n_random = max(k - len(planted), 0)
    rows = [np.repeat(np.arange(n_rows), n_random)]
    cols = [free[rng.integers(0, free.size, n_rows * n_random)]]
    values = [rng.uniform(0.0, 0.5, n_rows * n_random)]
    for structure, feature in planted.items():
        hits = np.flatnonzero(index[f"{STRUCTURE_PREFIX}{structure}"].to_numpy())
        rows.append(hits)
        cols.append(np.full(hits.size, feature))
        values.append(rng.uniform(0.5, 1.0, hits.size))
    codes = sp.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_latents),
    ).tocsr()
    codes.sum_duplicates()
    return codes.astype(np.float32)
