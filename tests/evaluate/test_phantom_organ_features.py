"""A known answer for the evaluation path: every slice of a generated phantom dataset gets an
embedding that plants one direction per organ it shows, the SAE is trained on the train split,
choices are made on train/val and every number is read on held-out scans (test): structure
detection, recovery with few features, retrieval lift against a random-feature baseline."""

import logging
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.evaluate.detection import structure_detection
from sail_core.evaluate.linear import FitSettings, fit_probe, score_probe
from sail_core.evaluate.protocol import SelectionLeak, check_selection_splits
from sail_core.evaluate.recovery import sae_feature_order
from sail_core.metrics import lift, precision_at_k
from sail_core.sae import TrainConfig, encode_codes, load_sae, train_sae
from sail_core.sae.codes import CodeStore
from tests.fixtures import phantom_slice_table

ORGANS = [
    "liver", "spleen", "kidney_left", "kidney_right", "gallbladder", "stomach", "pancreas",
    "heart", "lung_upper_lobe_left", "lung_lower_lobe_right", "brain", "urinary_bladder",
    "sternum", "clavicula_left", "aorta", "esophagus",
]  # fmt: skip
COMMON_PREVALENCE = 0.05
DETECTION_AUROC = 0.9
RETRIEVAL_K = 10
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def phantom_slices(tmp_path_factory) -> pl.DataFrame:
    return phantom_slice_table(tmp_path_factory.mktemp("phantom"), seed=3)


def planted_embeddings(presence: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """Each present organ adds its own unit direction with a random strength, plus dense noise."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(presence.shape[1], dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    strength = presence * rng.uniform(0.5, 1.5, size=presence.shape)
    return (strength @ directions + rng.normal(scale=0.05, size=(presence.shape[0], dim))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def phantom_sae(phantom_slices, tmp_path_factory) -> dict:
    """Planted embeddings, a trained SAE's codes of every slice, held-out splits by scan."""
    tmp_path = tmp_path_factory.mktemp("phantom_sae")
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
    return {
        "organs": organs,
        "presence": presence.astype(bool),
        "x": x,
        "codes": CodeStore(tmp_path / "codes.zarr").read_all(),
        "splits": splits,
    }


def _detection(phantom_sae) -> pl.DataFrame:
    return structure_detection(
        phantom_sae["codes"],
        phantom_sae["presence"],
        [STRUCTURE_PREFIX + o for o in phantom_sae["organs"]],
        phantom_sae["splits"]["train"],
        phantom_sae["splits"]["test"],
        DETECTION_AUROC,
    )


@pytest.mark.slow
def test_every_common_phantom_organ_is_detected_on_held_out_scans(phantom_sae):
    table = _detection(phantom_sae)
    log.info("organ detection, chosen on train, scored on held-out scans:\n%s", table)
    common = table.filter(pl.col("prevalence") >= COMMON_PREVALENCE)
    assert common.height >= 8, table
    missed = common.filter(pl.col("heldout_auroc") < DETECTION_AUROC)
    assert missed.is_empty(), f"organs their train-chosen feature misses on test:\n{missed}"


def _common_organs(phantom_sae) -> list[int]:
    test = phantom_sae["presence"][phantom_sae["splits"]["test"]]
    return [i for i in range(test.shape[1]) if test[:, i].mean() >= COMMON_PREVALENCE]


@pytest.mark.slow
def test_ten_features_recover_the_dense_probe_on_planted_organs(phantom_sae):
    settings = FitSettings((0.01, 0.1, 1.0, 10.0), 1.0, {"dense": "l2", "sparse": "l1"}, 1000, 0)
    splits, codes, x = phantom_sae["splits"], phantom_sae["codes"], phantom_sae["x"]
    ratios = {}
    for organ in _common_organs(phantom_sae):
        y = phantom_sae["presence"][:, organ]
        train, val, test = splits["train"], splits["val"], splits["test"]
        dense = fit_probe(x[train], y[train], x[val], y[val], settings, "dense")
        full = fit_probe(codes[train], y[train], codes[val], y[val], settings, "sparse")
        ranked = np.lexsort((np.arange(full.weights.size), -np.abs(full.weights)))
        order = sae_feature_order(
            ranked, full.n_nonzero, codes[train], y[train], "class_mean_difference"
        )
        top = order[:10]
        sparse = fit_probe(
            codes[train][:, top], y[train], codes[val][:, top], y[val], settings, "sparse"
        )
        dense_auc = score_probe(dense, x[test], y[test])["roc_auc"]
        sparse_auc = score_probe(sparse, codes[test][:, top], y[test])["roc_auc"]
        ratios[phantom_sae["organs"][organ]] = sparse_auc / dense_auc
    log.info("held-out recovery with 10 SAE features: %s", ratios)
    assert len(ratios) >= 8
    assert min(ratios.values()) >= 0.95, ratios


@pytest.mark.slow
def test_retrieval_of_a_planted_organ_beats_its_base_rate_and_random_features_do_not(
    phantom_sae,
):
    table = _detection(phantom_sae).filter(pl.col("prevalence") >= COMMON_PREVALENCE)
    test = phantom_sae["splits"]["test"]
    codes = phantom_sae["codes"][test].toarray()
    rng = np.random.default_rng(0)
    chosen_lift, random_lift = [], []
    for row in table.iter_rows(named=True):
        relevant = phantom_sae["presence"][test, phantom_sae["organs"].index(row["structure"])]
        base_rate = relevant.mean()
        for feature, lifts in (
            (row["best_feature"], chosen_lift),
            (rng.integers(codes.shape[1]), random_lift),
        ):
            top = np.argsort(-codes[:, feature], kind="stable")[:RETRIEVAL_K]
            lifts.append(lift(precision_at_k(relevant[top], RETRIEVAL_K), base_rate))
    log.info(
        "lift@%d, train-chosen feature: %s; random feature: %s",
        RETRIEVAL_K,
        chosen_lift,
        random_lift,
    )
    assert min(chosen_lift) >= 2.0 and np.mean(chosen_lift) >= 5.0, chosen_lift
    assert np.mean(random_lift) < 0.4 * np.mean(chosen_lift), random_lift


def test_a_config_choosing_on_test_is_refused():
    config = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())
    config["evaluation"]["monosemanticity"]["splits"] = ["train", "val", "test"]
    with pytest.raises(SelectionLeak, match="evaluation.monosemanticity.splits"):
        check_selection_splits(config)
