import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sail_core import metrics


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 8)) * np.arange(1, 9) + np.arange(8) * 5


def test_identity_reconstruction_is_perfect(x):
    r = metrics.ReconstructionStats()
    r.update(x, x)
    out = r.result()
    assert out["fvu"] == 0.0
    assert out["r2_global_mean"] == 1.0
    assert out["mse"] == 0.0
    assert out["cosine"] == pytest.approx(1.0)


def test_mean_only_reconstruction(x):
    x_hat = np.broadcast_to(x.mean(axis=0), x.shape)
    assert metrics.fvu(x, x_hat) == pytest.approx(1.0)
    r2 = metrics.r2_global_mean(x, x_hat)
    # the flattened R^2 credits the per-dimension means with the between-dimension variance
    between = ((x.mean(axis=0) - x.mean()) ** 2).sum() * x.shape[0]
    total = ((x - x.mean()) ** 2).sum()
    assert r2 == pytest.approx(between / total)
    assert r2 > 1 - metrics.fvu(x, x_hat)


def test_closed_form_values():
    x = np.array([[1.0, 0.0], [3.0, 4.0]])
    x_hat = np.array([[1.0, 1.0], [3.0, 3.0]])
    # sse 2; per-dim variance sums: dim0 2, dim1 8 -> 10; global mean 2 -> ss 1+4+1+4 = 10
    assert metrics.mse(x, x_hat) == pytest.approx(0.5)
    assert metrics.fvu(x, x_hat) == pytest.approx(0.2)
    assert metrics.r2_global_mean(x, x_hat) == pytest.approx(0.8)
    cos = (1 / np.sqrt(2) + (9 + 12) / (5 * np.sqrt(18))) / 2
    assert metrics.mean_cosine(x, x_hat) == pytest.approx(cos)


def test_streaming_equals_one_shot_and_accepts_torch(x):
    x_hat = x * 0.9 + 0.1
    r = metrics.ReconstructionStats()
    for lo in range(0, 200, 64):
        r.update(torch.tensor(x[lo : lo + 64]), torch.tensor(x_hat[lo : lo + 64]))
    streamed = r.result()
    assert streamed["fvu"] == pytest.approx(metrics.fvu(x, x_hat))
    assert streamed["r2_global_mean"] == pytest.approx(metrics.r2_global_mean(x, x_hat))
    assert streamed["n"] == 200


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal 2-D shapes"):
        metrics.fvu(np.zeros((3, 2)), np.zeros((3, 3)))


def test_sparsity_counts():
    codes = np.array([[0, 1.0, 2.0], [0, 0, 0.5]])
    assert metrics.l0_mean(codes) == 1.5
    assert metrics.l0_mean(sp.csr_matrix(codes)) == 1.5
    assert metrics.dead_fraction([0, 3, 1, 0]) == 0.5
    assert metrics.dense_fraction([0.5, 0.001, 0.02], threshold=0.01) == pytest.approx(2 / 3)


def test_jaccard_closed_form():
    presence = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]], dtype=bool)
    # pairs: (0,1) 1/2, (0,2) 0, (0,3) 0, (1,2) 0, (1,3) 0, (2,3) both empty -> 1
    assert metrics.mean_pairwise_jaccard(presence) == pytest.approx(1.5 / 6)
    identical = np.array([[1, 0, 1]] * 5, dtype=bool)
    assert metrics.mean_pairwise_jaccard(identical) == 1.0


def test_specificity_closed_form():
    one_structure = np.array([[1, 0, 0, 0]] * 3, dtype=bool)
    assert metrics.specificity(one_structure) == pytest.approx(1.0)
    uniform = np.eye(4, dtype=bool)
    assert metrics.specificity(uniform) == pytest.approx(0.0)
    assert metrics.specificity(np.zeros((3, 4), dtype=bool)) == 0.0
    half = np.array([[1, 1, 0, 0]], dtype=bool)
    assert metrics.specificity(half) == pytest.approx(1 - math.log(2) / math.log(4))


def test_monosemanticity():
    assert metrics.monosemanticity(0.9, 0.1, 0.5) == pytest.approx(0.4)
    assert metrics.monosemanticity(0.05, 0.1, 0.5) == 0.0


def test_recovery_definitions():
    auc_n = [0.75, 0.6, math.nan]
    dense = [1.0, 0.8, 0.9]
    assert metrics.recovery_ratio_of_means(auc_n, dense) == pytest.approx(1.35 / 1.8)
    assert metrics.recovery_mean_of_ratios(auc_n, dense) == pytest.approx((0.75 + 0.75) / 2)
    assert metrics.recovery_chance_corrected(auc_n, dense) == pytest.approx((0.5 + 1 / 3) / 2)
    # a chance-level probe recovers 50% by the ratio but 0% chance-corrected
    assert metrics.recovery_ratio_of_means([0.5], [1.0]) == 0.5
    assert metrics.recovery_chance_corrected([0.5], [1.0]) == 0.0


def test_n_features_to_reach_with_nan():
    n = [1, 2, 5, 10]
    aucs = [0.5, math.nan, 0.85, 0.95]
    assert metrics.n_features_to_reach(n, aucs, 1.0, 0.8) == 5
    assert metrics.n_features_to_reach(n, aucs, 1.0, 0.5) == 1
    assert math.isnan(metrics.n_features_to_reach(n, aucs, 1.0, 1.0))
    assert math.isnan(metrics.n_features_to_reach(n, aucs, math.nan, 0.5))


def test_precision_and_average_precision():
    rel = [True, False, True, False]
    assert metrics.precision_at_k(rel, 2) == 0.5
    assert metrics.precision_at_k(rel, 10) == 0.2
    assert metrics.average_precision(rel) == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(metrics.average_precision([False, False]))


def test_standardised_mean_difference_in_closed_form():
    x = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [0.0, 5.0, 0.0], [0.0, 5.0, 2.0]])
    y = np.array([True, True, False, False])
    # column 0: means 2 vs 0, std over all rows sqrt(mean(x^2) - mean^2) = sqrt(2.5 - 1)
    # column 1: constant -> 0; column 2: means 1 vs 1 -> 0
    expected = [2 / math.sqrt(1.5), 0.0, 0.0]
    np.testing.assert_allclose(metrics.standardised_mean_difference(x, y), expected)
    np.testing.assert_allclose(metrics.standardised_mean_difference(sp.csr_matrix(x), y), expected)
    assert np.isnan(metrics.standardised_mean_difference(x, np.ones(4, bool))).all()


def test_lift_is_precision_over_base_rate():
    assert metrics.lift(0.6, 0.2) == pytest.approx(3.0)
    assert math.isnan(metrics.lift(0.6, 0.0)) and math.isnan(metrics.lift(0.6, math.nan))


def test_cross_correlation_streams_to_the_exact_pearson_matrix():
    a = sp.random(300, 6, density=0.3, random_state=1, format="csr")
    b = sp.hstack(
        [
            a[:, :1] * 3.0,
            a[:, 1:2] * 2.0 - a[:, 2:3],
            sp.random(300, 3, density=0.4, random_state=2),
        ]
    ).tocsr()
    stats = metrics.CrossCorrelation(6, 5)
    for start in range(0, 300, 70):
        stats.update(a[start : start + 70], b[start : start + 70])
    expected = np.corrcoef(a.toarray().T, b.toarray().T)[:6, 6:]
    assert np.allclose(stats.result(), expected)
    assert stats.result()[0, 0] == pytest.approx(1.0)


def test_cross_correlation_is_zero_for_a_constant_column():
    a = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]))
    b = np.array([[1.0], [2.0], [4.0]])
    stats = metrics.CrossCorrelation(2, 1)
    stats.update(a, b)
    result = stats.result()
    assert result[1, 0] == 0.0
    assert result[0, 0] == pytest.approx(np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1])


def test_cosine_matrix_closed_form():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [0.0, -3.0]])
    expected = np.array([[1.0, 0.0], [1 / math.sqrt(2), -1 / math.sqrt(2)], [0.0, 0.0]])
    assert np.allclose(metrics.cosine_matrix(a, b), expected)


def test_twin_stability_takes_the_weaker_of_direction_and_activation():
    cosines = np.array([[0.9, 0.8], [0.9, -0.5]])
    correlations = np.array([[0.6, 1.0], [0.2, 0.9]])
    assert np.allclose(metrics.twin_stability(cosines, correlations), [0.7, 0.1])


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(metrics.average_ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    np.testing.assert_array_equal(metrics.average_ranks([3.0, 1.0, 3.0, 3.0]), [3, 1, 3, 3])
    assert metrics.average_ranks([]).shape == (0,)


def test_roc_auc_closed_form_with_ties():
    # pairs (positive, negative): 0.9>0.1, 0.9>0.5, 0.5=0.5 (one half), 0.5>0.1
    assert metrics.roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.5, 0.5, 0.1])) == 0.875
    assert math.isnan(metrics.roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))
