import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core import metrics
from sail_core.evaluate.monosemanticity import (
    MonosemanticitySettings,
    config_scores,
    null_baseline,
    run_monosemanticity,
    score_features,
)
from sail_core.sae.codes import CodeStore, write_code_store

PRESENCE = np.array(
    [
        [1, 1, 0, 0],
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 1, 1],
        [0, 0, 0, 0],
    ],
    dtype=bool,
)


def test_closed_form_coherence_specificity_and_m():
    top = pl.DataFrame(
        {"feature": [0, 0, 0, 1, 1], "rank": [0, 1, 2, 0, 1], "row_id": [0, 1, 2, 3, 4]}
    )
    scored = score_features(top, PRESENCE, {2: 0.25, 3: 0.1}, (2, 3))
    first = scored.row(0, named=True)
    # rows 0, 1: Jaccard 1/2; rows 0, 1, 2: (1/2 + 1 + 1/2) / 3
    assert first["coherence_2"] == pytest.approx(0.5)
    assert first["coherence_3"] == pytest.approx(2 / 3)
    # counts over rows 0..2: structure 0 three times, structure 1 twice -> p = (3/5, 2/5)
    entropy = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert first["specificity_3"] == pytest.approx(1 - entropy / math.log(4))
    assert first["monosemanticity_2"] == pytest.approx(
        (0.5 - 0.25) * metrics.specificity(PRESENCE[:2])
    )
    second = scored.row(1, named=True)  # an empty and a {2, 3} vector: Jaccard 0, M clipped to 0
    assert (second["coherence_2"], second["monosemanticity_2"]) == (0.0, 0.0)
    assert math.isnan(second["coherence_3"])


def test_null_baseline_of_identical_rows_is_one_and_seeded():
    same = np.ones((20, 3), dtype=bool)
    null = null_baseline(same, (5, 50), draws=10, seed=0)
    assert null["null_mean"][0] == 1.0 and null["null_sd"][0] == 0.0
    assert math.isnan(null["null_mean"][1])  # more slices than rows
    mixed = null_baseline(PRESENCE, (3,), draws=50, seed=1)
    assert mixed.equals(null_baseline(PRESENCE, (3,), draws=50, seed=1))
    assert 0 < mixed["null_mean"][0] < 1


def test_config_scores_are_named_top_means():
    features = pl.DataFrame(
        {
            "feature": range(60),
            "coherence_10": np.linspace(0.1, 0.7, 60),
            "specificity_10": np.full(60, 0.5),
            "monosemanticity_10": np.arange(60) / 100,
            "coherence_50": [np.nan] * 59 + [0.6],
            "specificity_50": [np.nan] * 59 + [0.4],
            "monosemanticity_50": [np.nan] * 59 + [0.3],
        }
    )
    scores = dict(config_scores(features, {10: 0.2, 50: 0.2}, (10, 50)).iter_rows())
    assert scores["m10_top10_mean"] == pytest.approx(np.arange(50, 60).mean() / 100)
    assert scores["m10_top50_mean"] == pytest.approx(np.arange(10, 60).mean() / 100)
    assert scores["m50_top10_mean"] == pytest.approx(0.3)
    assert scores["n_features_scored"] == 60
    assert scores["breadth_score_50_10"] == pytest.approx(0.3 / 0.59)
    above = np.clip(np.linspace(0.1, 0.7, 60) - 0.2, 0, None)
    assert scores["coherence_score_10"] == pytest.approx(above.mean())
    assert scores["n_features_above_null_10"] == (above > 0).sum()


def test_run_skips_always_active_features_and_keeps_ct_and_mri_apart(tmp_path):
    keys = [("ct", f"s{i:04d}") for i in range(4)] + [("mri", f"s{i:04d}") for i in range(4)]
    index = pl.DataFrame(
        {
            "row_id": np.arange(8),
            "modality": [m for m, _ in keys],
            "image_id": [i for _, i in keys],
            "orientation": ["axial"] * 8,
            "split": ["train", "test"] * 4,
            "structure_liver": [True, True, False, False, True, True, False, False],
            "structure_brain": [False, False, True, True, False, False, True, True],
        }
    )
    codes = np.zeros((8, 3), dtype=np.float32)
    codes[:, 0] = 1.0  # fires everywhere
    codes[[0, 1, 4, 5], 1] = [0.9, 0.8, 0.7, 0.6]  # the liver slices of ct and mri s0000/s0001
    codes[2, 2] = 0.5  # one scan only
    write_code_store(tmp_path / "c.zarr", sp.csr_matrix(codes), {"index_hash": "x"})
    settings = MonosemanticitySettings(
        ["train", "test"], (2, 4), null_draws=5, detection_auroc=0.9, chunk_rows=3, seed=0
    )
    result = run_monosemanticity(index, CodeStore(tmp_path / "c.zarr"), settings)
    assert result.features["feature"].to_list() == [1]
    row = result.features.row(0, named=True)
    assert row["n_retrieved"] == 4  # four distinct scans, two of them share an image id
    assert row["coherence_4"] == 1.0 and row["specificity_4"] == 1.0
    detected = {
        row["structure"]: row
        for row in result.detection.filter(pl.col("stratum") == "all").iter_rows(named=True)
    }
    # chosen on train, scored on test
    liver = detected["liver"]
    assert (liver["best_feature"], liver["insample_auroc"], liver["heldout_auroc"]) == (1, 1.0, 1.0)
    assert (liver["selected_on"], liver["scored_on"]) == ("train", "test")
    # feature 2 fires on one train brain slice only: optimistic in sample, chance held out
    brain = detected["brain"]
    assert (brain["best_feature"], brain["insample_auroc"]) == (2, 0.75)
    assert brain["heldout_auroc"] == 0.5
