import math

import numpy as np
import pytest
import scipy.sparse as sp

from sail_core.evaluate.detection import single_feature_auroc, structure_detection
from sail_core.metrics import roc_auc


def test_single_feature_auroc_equals_the_direct_computation():
    rng = np.random.default_rng(0)
    codes = sp.random(120, 7, density=0.3, format="csr", random_state=1)
    codes.data = np.round(codes.data, 1)  # ties among the non-zero values too
    presence = rng.random((120, 4)) < 0.3
    presence[:, 3] = False  # a structure that never occurs
    table = single_feature_auroc(codes, presence)
    dense = codes.toarray()
    for feature in range(7):
        for structure in range(3):
            assert table[feature, structure] == pytest.approx(
                roc_auc(presence[:, structure], dense[:, feature])
            )
    assert np.isnan(table[:, 3]).all()


def test_structure_detection_reports_the_best_feature():
    presence = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
    codes = sp.csr_matrix(np.array([[0.0, 0.9], [0.2, 0.8], [0.5, 0.0], [0.0, 0.1]]))
    rows = np.arange(4)
    table = structure_detection(codes, presence, ["structure_liver", "structure_brain"], rows, rows)
    liver = table.row(0, named=True)
    assert (liver["structure"], liver["best_feature"], liver["insample_auroc"]) == ("liver", 1, 1.0)
    assert liver["heldout_auroc"] == 1.0 and liver["n_features_reaching_insample"] == 1
    brain = table.row(1, named=True)
    assert (brain["best_feature"], brain["insample_auroc"]) == (0, 1.0)
    none = structure_detection(codes, np.zeros((4, 1), dtype=bool), ["structure_x"], rows, rows)
    assert none["best_feature"][0] is None and math.isnan(none["heldout_auroc"][0])


def test_feature_is_chosen_on_selection_rows_and_scored_on_held_out_rows():
    presence = np.array([[1], [0], [1], [0], [1], [0], [1], [0]], dtype=bool)
    # feature 0 separates the selection rows only, feature 1 the held-out rows only
    codes = sp.csr_matrix(
        np.array([[0.9, 0], [0, 0.5], [0.8, 0], [0, 0.5], [0, 0.9], [0.9, 0], [0, 0.8], [0.8, 0]])
    )
    table = structure_detection(codes, presence, ["structure_liver"], np.arange(4), np.arange(4, 8))
    row = table.row(0, named=True)
    assert (row["best_feature"], row["insample_auroc"], row["heldout_auroc"]) == (0, 1.0, 0.0)
    assert (row["n_selection_rows"], row["n_heldout_rows"], row["prevalence"]) == (4, 4, 0.5)


def test_strata_choose_and_score_inside_the_stratum():
    presence = np.array([[1], [0], [1], [0], [1], [0], [1], [0]], dtype=bool)
    codes = sp.csr_matrix(
        np.array([[0.9, 0], [0, 0], [0, 0.7], [0, 0.8], [0.5, 0], [0, 0], [0, 0.2], [0.3, 0.9]])
    )
    strata = np.array(["ct axial", "ct axial", "ct coronal", "ct coronal"] * 2)
    table = structure_detection(
        codes, presence, ["structure_liver"], np.arange(4), np.arange(4, 8), strata=strata
    )
    assert table["stratum"].to_list() == ["all", "ct axial", "ct coronal"]
    by_stratum = {row["stratum"]: row for row in table.iter_rows(named=True)}
    assert by_stratum["ct axial"]["best_feature"] == 0
    assert by_stratum["ct axial"]["heldout_auroc"] == 1.0
    assert by_stratum["ct coronal"]["insample_auroc"] == 0.5  # feature 1 ranks the negative higher
    assert by_stratum["ct coronal"]["heldout_auroc"] == 0.0
    assert by_stratum["all"]["insample_auroc"] == pytest.approx(0.75)
