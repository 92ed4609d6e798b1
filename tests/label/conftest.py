"""Fixtures of the labelling tests: the fake Anthropic API (`fake_anthropic.py`) and a small
labelled world with planted features."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core.data.anatomy import REGION_OF
from sail_core.data.index import write_index
from sail_core.io import write_parquet
from sail_core.mine.mining import MiningSettings, mine_features
from sail_core.sae.codes import CodeStore, write_code_store
from tests.fixtures import write_slice_store
from tests.label.fake_anthropic import FAKE_KEY, FakeAnthropic


@pytest.fixture
def fake_api(monkeypatch):
    fake = FakeAnthropic()
    fake.thread.start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


BANDS = {
    "skull": (0.88, 1.00),
    "brain": (0.90, 1.00),
    "lung_upper_lobe_left": (0.60, 0.80),
    "lung_upper_lobe_right": (0.60, 0.80),
    "heart": (0.58, 0.70),
    "rib_left_5": (0.55, 0.78),
    "rib_right_5": (0.55, 0.78),
    "liver": (0.42, 0.58),
    "spleen": (0.45, 0.55),
    "kidney_left": (0.35, 0.45),
    "kidney_right": (0.35, 0.45),
    "vertebrae_L3": (0.30, 0.40),
    "hip_left": (0.12, 0.25),
    "hip_right": (0.12, 0.25),
    "sacrum": (0.15, 0.25),
    "urinary_bladder": (0.10, 0.18),
}
FIELDS_OF_VIEW = [(0.85, 1.0), (0.5, 0.85), (0.3, 0.6), (0.05, 0.35), (0.05, 1.0)]
ENCODER, SAE = "enc", "D16-64_K4-8"
N_LATENTS = 48
PLANTED_FEATURES = (3, 7, 11, 19, 23)


def _planted(rows: pl.DataFrame) -> dict[int, np.ndarray]:
    """Feature -> rows it fires on: a concept each, by modality, orientation and anatomy."""
    ct, axial = rows["modality"] == "ct", rows["orientation"] == "axial"
    has = {name: rows[f"structure_{name}"] for name in BANDS}
    return {
        3: (ct & axial & has["liver"]).to_numpy(),
        7: (ct & has["brain"]).to_numpy(),
        11: (rows["modality"] == "mri").to_numpy(),
        19: (ct & (rows["orientation"] == "coronal") & has["lung_upper_lobe_left"]).to_numpy(),
        23: (ct & axial & has["hip_left"]).to_numpy(),
    }


def build_index(n_ct: int = 32, n_mri: int = 8) -> pl.DataFrame:
    """A slice index in the layout of results/slices/index.parquet, fully determined."""
    rng = np.random.default_rng(5)
    records = []
    scans = [("ct", i) for i in range(n_ct)] + [("mri", i) for i in range(n_mri)]
    for modality, number in scans:
        low, high = FIELDS_OF_VIEW[(number + 3 * (modality == "mri")) % len(FIELDS_OF_VIEW)]
        age = float(rng.integers(20, 90))
        scan = {
            "modality": modality,
            "image_id": f"s{number:04d}",
            "gender": "f" if rng.random() < 0.5 else "m",
            "age": age,
            "age_bin": "<40" if age <= 40 else "40-60" if age <= 60 else "60-80",
            "institute": "ABCDE"[number % 5],
            "pathology": "no_pathology" if number % 3 else "tumor",
            "split": ("test", "val", "train", "train")[number % 4],
        }
        orientations = ("axial", "coronal", "sagittal") if modality == "ct" else ("axial",)
        for orientation in orientations:
            heights = np.linspace(low, high, 12) if orientation == "axial" else [None] * 4
            for array_pos, height in enumerate(heights):
                present = {
                    f"structure_{name}": bool(
                        (band[0] <= height <= band[1])
                        if height is not None
                        else band[1] >= low and band[0] <= high and rng.random() < 0.8
                    )
                    for name, band in BANDS.items()
                }
                records.append(
                    scan | {"orientation": orientation, "index": array_pos * 3,
                            "array_pos": array_pos} | present
                )  # fmt: skip
    index = pl.DataFrame(records).with_columns(pl.col("index", "array_pos").cast(pl.Int32))
    regions = {}
    for name in BANDS:
        column = f"region_{REGION_OF[name]}"
        regions[column] = regions.get(column, pl.lit(False)) | pl.col(f"structure_{name}")
    index = index.with_columns(**regions).sort("modality", "image_id", "orientation", "index")
    return index.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))


def build_codes(index: pl.DataFrame) -> sp.csr_matrix:
    """Planted features (0.5..1) plus three random background latents per row (0..0.3)."""
    rng = np.random.default_rng(6)
    rows, cols, values = [], [], []
    for feature, fires in _planted(index).items():
        hits = np.flatnonzero(fires)
        rows.append(hits)
        cols.append(np.full(hits.size, feature))
        values.append(rng.uniform(0.5, 1.0, hits.size))
    background = np.setdiff1d(np.arange(N_LATENTS), PLANTED_FEATURES)
    rows.append(np.repeat(np.arange(index.height), 3))
    cols.append(rng.choice(background, 3 * index.height))
    values.append(rng.uniform(0.01, 0.3, 3 * index.height))
    codes = sp.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(index.height, N_LATENTS),
    ).tocsr()
    codes.sum_duplicates()
    return codes.astype(np.float32)


def write_slice_stores(index: pl.DataFrame, slices_dir, size: int = 16) -> None:
    """Slice stores and tables of the index's scans, pixels a function of the slice key."""
    ramp = np.add.outer(np.arange(size), np.arange(size))
    for (modality, image_id), scan in index.group_by("modality", "image_id"):
        slices = {}
        for (orientation,), rows in scan.group_by("orientation"):
            n = int(rows["array_pos"].max()) + 1
            slices[orientation] = ((ramp[None] * 4 + np.arange(n)[:, None, None] * 9) % 256).astype(
                np.uint8
            )
        write_slice_store(slices_dir, modality, image_id, slices, scan.drop("row_id"))


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """A finished tiny run: slice index and stores, codes with planted features, mining."""
    run = tmp_path_factory.mktemp("run")
    index = build_index()
    digest = write_index(index, run / "slices" / "index.parquet")
    write_slice_stores(index, run / "slices")
    codes_path = run / "codes" / ENCODER / f"{SAE}.zarr"
    codes_path.parent.mkdir(parents=True)
    write_code_store(codes_path, build_codes(index), {"index_hash": digest})
    store = CodeStore(codes_path, digest)
    settings = MiningSettings(
        splits=["train"], n_top=10, diverse_pool=20, n_diverse=5, min_count=2, chunk_rows=256
    )
    mined = mine_features(index, store, settings)
    features = run / "features" / ENCODER / SAE
    for name in ("stats", "top_slices", "enrichment"):
        write_parquet(getattr(mined, name), features / f"{name}.parquet")
    return {
        "run": run,
        "index": index,
        "store": store,
        "stats": mined.stats,
        "top_slices": mined.top_slices,
        "enrichment": mined.enrichment,
        "planted": PLANTED_FEATURES,
    }
