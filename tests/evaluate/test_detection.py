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
    table = structure_detection(codes, presence, ["structure_liver", "structure_brain"])
    liver = table.row(0, named=True)
    assert (liver["structure"], liver["best_feature"], liver["best_auroc"]) == ("liver", 1, 1.0)
    assert liver["n_features_reaching"] == 1
    brain = table.row(1, named=True)
    assert (brain["best_feature"], brain["best_auroc"]) == (0, 1.0)
    none = structure_detection(codes, np.zeros((4, 1), dtype=bool), ["structure_x"])
    assert none["best_feature"][0] is None and math.isnan(none["best_auroc"][0])


def test_strata_are_scored_on_their_own_rows():
    presence = np.array([[1], [0], [1], [0]], dtype=bool)
    codes = sp.csr_matrix(np.array([[0.9, 0.0], [0.0, 0.0], [0.0, 0.7], [0.0, 0.8]]))
    strata = np.array(["ct axial", "ct axial", "ct coronal", "ct coronal"])
    table = structure_detection(codes, presence, ["structure_liver"], strata=strata)
    assert table["stratum"].to_list() == ["all", "ct axial", "ct coronal"]
    by_stratum = {row["stratum"]: row for row in table.iter_rows(named=True)}
    assert by_stratum["ct axial"]["best_feature"] == 0
    assert by_stratum["ct axial"]["best_auroc"] == 1.0
    assert by_stratum["ct coronal"]["best_auroc"] == 0.5  # feature 1 ranks the negative higher
    assert by_stratum["all"]["best_auroc"] == pytest.approx(0.75)
