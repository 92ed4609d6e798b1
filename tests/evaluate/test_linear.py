import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from sail_core.evaluate.linear import (
    FitSettings,
    Standardiser,
    fit_probe,
    penalty_arguments,
    score_probe,
)
from sail_core.metrics import balanced_accuracy, f1, roc_auc


def test_scores_match_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    score = np.round(rng.normal(size=200) + y, 1)  # rounding makes ties
    predicted = score > 0.5
    assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert f1(y, predicted) == pytest.approx(f1_score(y, predicted))
    assert balanced_accuracy(y, predicted) == pytest.approx(balanced_accuracy_score(y, predicted))


def test_scores_with_one_class():
    y = np.zeros(5, dtype=bool)
    assert math.isnan(roc_auc(y, np.arange(5)))
    assert math.isnan(balanced_accuracy(y, y))
    assert f1(y, y) == 0.0


def test_sparse_standardiser_keeps_sparsity_and_unit_variance():
    x = sp.random(300, 6, density=0.2, format="csr", random_state=1)
    scaled = Standardiser.fit(x)(x)
    assert sp.issparse(scaled) and scaled.nnz == x.nnz
    np.testing.assert_allclose(scaled.toarray().std(axis=0), 1.0)
    constant = Standardiser.fit(np.ones((4, 2)))
    assert constant.scale.tolist() == [1.0, 1.0]


def _settings(**changes):
    base = {
        "c_grid": (1e-4, 1.0),
        "default_c": 0.5,
        "penalties": {"dense": "l2", "sparse": "l1"},
        "max_iter": 200,
        "seed": 0,
    }
    return FitSettings(**(base | changes))


def test_fit_probe_tunes_c_on_val_and_falls_back_without_both_classes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 5))
    y = x[:, 0] + 0.3 * rng.normal(size=400) > 0
    sparse = sp.csr_matrix(x)
    # with the l1 penalty, C = 1e-4 zeroes every weight (val AUROC 0.5): C = 1 must win
    probe = fit_probe(sparse[:300], y[:300], sparse[300:], y[300:], _settings(), "sparse")
    assert (probe.c, probe.c_source) == (1.0, "val_auroc")
    assert score_probe(probe, sparse[300:], y[300:])["roc_auc"] > 0.9
    weak = fit_probe(
        sparse[:300], y[:300], sparse[300:], y[300:], _settings(c_grid=(1e-4,)), "sparse"
    )
    assert np.count_nonzero(weak.weights) == 0
    dense = fit_probe(x[:300], y[:300], x[300:], y[300:], _settings(c_grid=(1e-4,)), "dense")
    assert np.count_nonzero(dense.weights) == 5  # l2 shrinks but keeps every weight
    fallback = fit_probe(x[:300], y[:300], x[300:310], np.zeros(10, bool), _settings(), "dense")
    assert (fallback.c, fallback.c_source) == (0.5, "default (val lacks a class)")
    assert score_probe(fallback, x[:0], y[:0])["n_rows"] == 0


@pytest.mark.parametrize(
    ("version", "before_1_8"),
    [("1.4.2", True), ("1.7.2", True), ("1.8.0", False), ("1.9.1", False), ("1.10.0rc1", False)],
)
def test_penalty_arguments_select_l1_on_every_release(version, before_1_8):
    arguments = penalty_arguments("l1", version)
    assert arguments["solver"] == "liblinear"
    if before_1_8:
        # before 1.8 l1_ratio is ignored unless the penalty is elastic-net: penalty must say l1
        assert arguments == {"penalty": "l1", "solver": "liblinear"}
    else:
        assert arguments == {"l1_ratio": 1.0, "solver": "liblinear"}
    assert penalty_arguments("l2", version)["solver"] == "lbfgs"


def test_penalty_arguments_refuse_an_unknown_penalty():
    with pytest.raises(ValueError, match="elasticnet"):
        penalty_arguments("elasticnet")


def test_l1_probe_keeps_only_the_planted_latent_and_records_its_fit():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 50))
    y = x[:, 7] + 0.2 * rng.normal(size=600) > 0  # one latent explains the target
    sparse = sp.csr_matrix(x)
    settings = _settings(c_grid=(0.01, 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated or ignored argument on this release
        probe = fit_probe(sparse[:400], y[:400], sparse[400:], y[400:], settings, "sparse")
    assert probe.penalty == "l1"
    assert 1 <= probe.n_nonzero < 10, probe.weights
    assert int(np.argmax(np.abs(probe.weights))) == 7
    dense = fit_probe(x[:400], y[:400], x[400:], y[400:], settings, "dense")
    assert (dense.penalty, dense.n_nonzero) == ("l2", 50)
