"""The SAE finds organ features on phantom anatomy: every slice of a generated phantom dataset
gets an embedding that plants one direction per organ it shows (the known answer), the SAE is
trained on the train split and the detection table is read on the held-out rows."""

import logging

import numpy as np
import polars as pl
import pytest

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.data.dataset import build_subjects
from sail_core.data.phantom import generate_phantom
from sail_core.data.slicing import SlicingParams, slice_scan
from sail_core.evaluate.detection import structure_detection
from sail_core.sae import TrainConfig, encode_codes, load_sae, train_sae
from sail_core.sae.codes import open_codes

ORGANS = [
    "liver", "spleen", "kidney_left", "kidney_right", "gallbladder", "stomach", "pancreas",
    "heart", "lung_upper_lobe_left", "lung_lower_lobe_right", "brain", "urinary_bladder",
    "sternum", "clavicula_left", "aorta", "esophagus",
]  # fmt: skip
TINY = {"ct_matrix": 32, "ct_max_slices": 48, "mri_matrix": 24, "mri_slice_thickness_mm": 12.0}
COMMON_PREVALENCE = 0.05
DETECTION_AUROC = 0.9
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def phantom_slices(tmp_path_factory) -> pl.DataFrame:
    root = tmp_path_factory.mktemp("phantom")
    generate_phantom(root / "ct", root / "mri", n_ct=8, n_mri=2, seed=3, **TINY)
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


def planted_embeddings(presence: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """Each present organ adds its own unit direction with a random strength, plus dense noise."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(presence.shape[1], dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    strength = presence * rng.uniform(0.5, 1.5, size=presence.shape)
    return (strength @ directions + rng.normal(scale=0.05, size=(presence.shape[0], dim))).astype(
        np.float32
    )


@pytest.mark.slow
def test_every_common_phantom_organ_has_a_detecting_feature(phantom_slices, tmp_path):
    organs = [o for o in ORGANS if STRUCTURE_PREFIX + o in phantom_slices.columns]
    presence = phantom_slices.select(STRUCTURE_PREFIX + o for o in organs).to_numpy()
    x = planted_embeddings(presence.astype(np.float32), dim=48, seed=0)
    scans = (phantom_slices["modality"] + "/" + phantom_slices["image_id"]).to_numpy()
    held_out_scans = np.unique(scans)[::4]
    held_out = np.isin(scans, held_out_scans)
    rows = np.arange(len(x))
    splits = {"train": rows[~held_out], "val": rows[held_out][::2], "test": rows[held_out][1::2]}

    config = TrainConfig(
        epochs=150,
        batch_size=64,
        input_norm="none",
        warmup_steps=20,
        lr=3e-3,
        log_every=50,
        checkpoint_every=1000,
    )
    train_sae(x, splits, "D32-128_K8-16", config, tmp_path / "sae", source="phantom organs")
    encode_codes(
        load_sae(tmp_path / "sae"),
        x,
        tmp_path / "codes.zarr",
        chunk_rows=1024,
        attrs={},
        source="phantom organs",
    )
    codes = open_codes(tmp_path / "codes.zarr")

    table = structure_detection(
        codes,
        presence,
        [STRUCTURE_PREFIX + o for o in organs],
        splits["train"],
        splits["test"],
        DETECTION_AUROC,
    )
    log.info("organ detection, chosen on train, scored on held-out scans:\n%s", table)
    common = table.filter(pl.col("prevalence") >= COMMON_PREVALENCE)
    assert common.height >= 8, table
    missed = common.filter(pl.col("heldout_auroc") < DETECTION_AUROC)
    assert missed.is_empty(), f"organs their train-chosen feature misses on test:\n{missed}"
