"""Every metric of the project, defined once.

Reconstruction
- `mse`: mean over all elements of (x - x_hat)^2.
- `fvu`: fraction of variance unexplained, sum (x - x_hat)^2 / sum (x - mean_j)^2 with the
  per-dimension mean mean_j (the SAELens / sparsify / saev definition). `explained_variance`
  = 1 - fvu.
- `r2_global_mean`: the study's flattened R^2, 1 - sum (x - x_hat)^2 / sum (x - m)^2 with ONE
  scalar mean m over every element. Always >= 1 - fvu; only for comparison with the study.
- `cosine`: mean over rows of cos(x_i, x_hat_i).

Interpretability (the study's monosemanticity, §8)
- `mean_pairwise_jaccard`: coherence C, mean Jaccard over all pairs; two empty vectors count 1.
- `specificity`: S = 1 - H(p)/ln(s), p the structure frequencies among the samples.
- `monosemanticity`: M = max(0, C - null) * S.

Performance recovery (§7), arrays over targets
- `recovery_ratio_of_means`: mean(auc_n) / mean(auc_dense) (the study's headline form).
- `recovery_mean_of_ratios`: mean(auc_n / auc_dense).
- `recovery_chance_corrected`: mean((auc_n - 0.5) / (auc_dense - 0.5)).
- `n_features_to_reach`: smallest N whose auc / dense auc reaches a fraction.

Classification
- `roc_auc`, `f1`, `balanced_accuracy` of binary targets.

Retrieval
- `precision_at_k`, `average_precision` over a relevance sequence in rank order.

Feature universality (seed stability, cross-encoder alignment)
- `CrossCorrelation`: streaming Pearson correlation between every column of A and every column
  of B over the same rows; a column that never varies has correlation 0 with everything.
- `cosine_matrix`: cosine between every row of A and every row of B (decoder directions).
- `twin_stability`: per feature, the mean over seed runs of max(0, min(cosine, correlation)) of
  its twin: a twin counts only as far as it points the same way AND fires on the same slices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def _as_float64(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().to("cpu").double().numpy()
    return np.asarray(a, dtype=np.float64)


class ReconstructionStats:
    """Streaming sums from which mse, fvu, r2_global_mean and cosine follow exactly."""

    def __init__(self) -> None:
        self.n = 0
        self.d = 0
        self._sse = 0.0
        self._sum = None
        self._sum_sq = None
        self._cos_sum = 0.0

    def update(self, x, x_hat) -> None:
        x = _as_float64(x)
        x_hat = _as_float64(x_hat)
        if x.shape != x_hat.shape or x.ndim != 2:
            raise ValueError(
                f"x and x_hat must be equal 2-D shapes, got {x.shape} and {x_hat.shape}"
            )
        if self._sum is None:
            self.d = x.shape[1]
            self._sum = np.zeros(self.d)
            self._sum_sq = np.zeros(self.d)
        self.n += x.shape[0]
        self._sse += float(((x - x_hat) ** 2).sum())
        self._sum += x.sum(axis=0)
        self._sum_sq += (x**2).sum(axis=0)
        norms = np.linalg.norm(x, axis=1) * np.linalg.norm(x_hat, axis=1)
        dots = (x * x_hat).sum(axis=1)
        self._cos_sum += float(
            np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0).sum()
        )

    def result(self) -> dict[str, float]:
        if self.n == 0:
            raise ValueError("no rows were accumulated")
        per_dim_ss = float((self._sum_sq - self._sum**2 / self.n).sum())
        total = self.n * self.d
        global_ss = float(self._sum_sq.sum() - self._sum.sum() ** 2 / total)
        fvu_value = self._sse / per_dim_ss if per_dim_ss > 0 else math.nan
        return {
            "mse": self._sse / total,
            "fvu": fvu_value,
            "explained_variance": 1.0 - fvu_value,
            "r2_global_mean": 1.0 - self._sse / global_ss if global_ss > 0 else math.nan,
            "cosine": self._cos_sum / self.n,
            "n": self.n,
        }


def _one_shot(x, x_hat) -> dict[str, float]:
    stats = ReconstructionStats()
    stats.update(x, x_hat)
    return stats.result()


def mse(x, x_hat) -> float:
    return _one_shot(x, x_hat)["mse"]


def fvu(x, x_hat) -> float:
    return _one_shot(x, x_hat)["fvu"]


def r2_global_mean(x, x_hat) -> float:
    return _one_shot(x, x_hat)["r2_global_mean"]


def mean_cosine(x, x_hat) -> float:
    return _one_shot(x, x_hat)["cosine"]


def l0_mean(codes) -> float:
    """Mean number of non-zero entries per row."""
    if sp.issparse(codes):
        codes = sp.csr_matrix(codes)
        codes.eliminate_zeros()
        return codes.nnz / codes.shape[0]
    return float((_as_float64(codes) != 0).sum(axis=1).mean())


def dead_fraction(fire_counts) -> float:
    """Fraction of latents that never fired."""
    counts = np.asarray(fire_counts)
    return float((counts == 0).mean())


def dense_fraction(frequency, threshold: float = 1e-2) -> float:
    """Fraction of latents firing on more than `threshold` of the samples."""
    return float((np.asarray(frequency) > threshold).mean())


def mean_pairwise_jaccard(presence) -> float:
    """Mean Jaccard index over all pairs of rows of a boolean (n, s) matrix."""
    m = np.asarray(presence, dtype=bool)
    n = m.shape[0]
    if n < 2:
        raise ValueError("coherence needs at least two samples")
    a = m.astype(np.float64)
    inter = a @ a.T
    sizes = a.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    jac = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    upper = np.triu_indices(n, k=1)
    return float(jac[upper].mean())


def jaccard_to_rows(reference, rows) -> np.ndarray:
    """Jaccard index between a boolean row and each row of a boolean (n, s) matrix; 1 where
    both are empty (as in `mean_pairwise_jaccard`)."""
    reference = np.asarray(reference, dtype=bool)
    rows = np.asarray(rows, dtype=bool).reshape(-1, reference.size)
    inter = (rows & reference).sum(axis=1)
    union = (rows | reference).sum(axis=1)
    return np.divide(inter, union, out=np.ones(rows.shape[0]), where=union > 0)


def specificity(presence) -> float:
    """1 - H(p)/ln(s) of the structure distribution among the rows; 0 when nothing is present."""
    m = np.asarray(presence, dtype=bool)
    n_structures = m.shape[1]
    counts = m.sum(axis=0).astype(np.float64)
    total = counts.sum()
    if total == 0 or n_structures < 2:
        return 0.0
    p = counts[counts > 0] / total
    entropy = float(-(p * np.log(p)).sum())
    return 1.0 - entropy / math.log(n_structures)


def monosemanticity(coherence: float, null: float, specificity_value: float) -> float:
    return max(0.0, coherence - null) * specificity_value


def _paired(auc_n, auc_dense) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(auc_n, dtype=np.float64)
    d = np.asarray(auc_dense, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(d))
    return a[keep], d[keep]


def recovery_ratio_of_means(auc_n, auc_dense) -> float:
    a, d = _paired(auc_n, auc_dense)
    return float(a.mean() / d.mean()) if a.size else math.nan


def recovery_mean_of_ratios(auc_n, auc_dense) -> float:
    a, d = _paired(auc_n, auc_dense)
    return float((a / d).mean()) if a.size else math.nan


def recovery_chance_corrected(auc_n, auc_dense) -> float:
    """Mean over targets of (auc - 0.5) / (auc_dense - 0.5); targets with dense <= 0.5 are skipped."""
    a, d = _paired(auc_n, auc_dense)
    keep = d > 0.5
    if not keep.any():
        return math.nan
    return float(((a[keep] - 0.5) / (d[keep] - 0.5)).mean())


# the recovery definitions by name, the keys of every recovery table and summary
RECOVERY_DEFINITIONS = {
    "ratio_of_means": recovery_ratio_of_means,
    "mean_of_ratios": recovery_mean_of_ratios,
    "chance_corrected": recovery_chance_corrected,
}


def n_features_to_reach(n_values, aucs, dense_auc: float, fraction: float) -> float:
    """Smallest N with auc(N) / dense_auc >= fraction; NaN if no evaluated N (or no valid AUC) does."""
    if dense_auc is None or math.isnan(dense_auc) or dense_auc <= 0:
        return math.nan
    for n, auc in sorted(zip(n_values, aucs, strict=True)):
        if not math.isnan(auc) and auc / dense_auc >= fraction:
            return float(n)
    return math.nan


def precision_at_k(relevant: Sequence[bool], k: int) -> float:
    """Share of relevant items among the first k (a short list counts the missing ones as misses)."""
    if k <= 0:
        raise ValueError("k must be positive")
    return float(np.asarray(list(relevant)[:k], dtype=bool).sum() / k)


def average_precision(relevant: Sequence[bool]) -> float:
    """Mean of precision@i over the ranks i of the relevant items; NaN with no relevant item."""
    rel = np.asarray(list(relevant), dtype=bool)
    if not rel.any():
        return math.nan
    hits = np.cumsum(rel)
    ranks = np.arange(1, rel.size + 1)
    return float((hits[rel] / ranks[rel]).mean())


def average_ranks(values) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], values.size]
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """AUROC in the Mann-Whitney form (ties count one half); NaN with a single class."""
    y = np.asarray(y, dtype=bool)
    n_positive = int(y.sum())
    n_negative = y.size - n_positive
    if n_positive == 0 or n_negative == 0:
        return math.nan
    ranks = average_ranks(score)
    return float((ranks[y].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def f1(y: np.ndarray, predicted: np.ndarray) -> float:
    """2TP / (2TP + FP + FN); 0 when nothing is predicted or positive."""
    y, predicted = np.asarray(y, dtype=bool), np.asarray(predicted, dtype=bool)
    true_positive = int((y & predicted).sum())
    denominator = 2 * true_positive + int((~y & predicted).sum()) + int((y & ~predicted).sum())
    return 2 * true_positive / denominator if denominator else 0.0


def balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of the true-positive and true-negative rates; NaN with a single class."""
    y, predicted = np.asarray(y, dtype=bool), np.asarray(predicted, dtype=bool)
    if y.all() or not y.any():
        return math.nan
    return float(((predicted[y]).mean() + (~predicted[~y]).mean()) / 2)


def standardised_mean_difference(x, y) -> np.ndarray:
    """Per column |mean over positive rows - mean over negative rows| / standard deviation over
    all rows (0 for a constant column; NaN without both classes). `x` may be sparse."""
    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        return np.full(x.shape[1], np.nan)
    mean = np.asarray(x.mean(axis=0, dtype=np.float64)).ravel()
    square = x.multiply(x) if hasattr(x, "multiply") else np.square(x, dtype=np.float64)
    std = np.sqrt(np.maximum(np.asarray(square.mean(axis=0)).ravel() - mean**2, 0.0))
    positive = np.asarray(x[y].mean(axis=0, dtype=np.float64)).ravel()
    negative = np.asarray(x[~y].mean(axis=0, dtype=np.float64)).ravel()
    difference = np.abs(positive - negative)
    return np.divide(difference, std, out=np.zeros_like(difference), where=std > 0)


def lift(precision: float, base_rate: float) -> float:
    """precision / base rate (how many times chance); NaN when the base rate is 0 or unknown."""
    if base_rate is None or math.isnan(base_rate) or base_rate <= 0:
        return math.nan
    return float(precision / base_rate)


class CrossCorrelation:
    """Streaming sums over row chunks from which the (n_a, n_b) Pearson matrix follows exactly.

    Chunks may be SciPy sparse matrices; the accumulators are dense (n_a, n_b) float64.
    """

    def __init__(self, n_a: int, n_b: int) -> None:
        self.n = 0
        self._sum_a = np.zeros(n_a)
        self._sum_b = np.zeros(n_b)
        self._sq_a = np.zeros(n_a)
        self._sq_b = np.zeros(n_b)
        self._cross = np.zeros((n_a, n_b))

    def update(self, a, b) -> None:
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"chunks must have the same rows, got {a.shape[0]} and {b.shape[0]}")
        if (a.shape[1], b.shape[1]) != self._cross.shape:
            raise ValueError(f"chunk columns {a.shape[1]}, {b.shape[1]} != {self._cross.shape}")
        a = sp.csr_matrix(a, dtype=np.float64)
        b = sp.csr_matrix(b, dtype=np.float64)
        self.n += a.shape[0]
        self._sum_a += np.asarray(a.sum(axis=0)).ravel()
        self._sum_b += np.asarray(b.sum(axis=0)).ravel()
        self._sq_a += np.asarray(a.multiply(a).sum(axis=0)).ravel()
        self._sq_b += np.asarray(b.multiply(b).sum(axis=0)).ravel()
        # densifying the chunk product is far cheaper than scattering millions of COO entries
        self._cross += (a.T @ b).toarray()

    def result(self) -> np.ndarray:
        if self.n == 0:
            raise ValueError("no rows were accumulated")
        n = self.n
        var_a = np.maximum(self._sq_a - self._sum_a**2 / n, 0.0)
        var_b = np.maximum(self._sq_b - self._sum_b**2 / n, 0.0)
        covariance = self._cross - np.outer(self._sum_a, self._sum_b) / n
        scale = np.sqrt(np.outer(var_a, var_b))
        # relative floor: a column whose variance is rounding noise counts as constant
        floor = 1e-12 * max(float(self._sq_a.max(initial=0)), float(self._sq_b.max(initial=0)), 1.0)
        valid = np.outer(var_a > floor, var_b > floor)
        correlation = np.divide(covariance, scale, out=np.zeros_like(covariance), where=valid)
        return np.clip(correlation, -1.0, 1.0)


def cosine_matrix(a, b) -> np.ndarray:
    """(n_a, n_b) cosine between the rows of a and b; 0 for a zero row."""
    a, b = _as_float64(a), _as_float64(b)
    norm_a = np.linalg.norm(a, axis=1)
    norm_b = np.linalg.norm(b, axis=1)
    a = np.divide(a, norm_a[:, None], out=np.zeros_like(a), where=norm_a[:, None] > 0)
    b = np.divide(b, norm_b[:, None], out=np.zeros_like(b), where=norm_b[:, None] > 0)
    return np.clip(a @ b.T, -1.0, 1.0)


def twin_stability(cosines, correlations) -> np.ndarray:
    """Per feature (rows), the mean over seed runs (columns) of max(0, min(cos, corr))."""
    cosines, correlations = _as_float64(cosines), _as_float64(correlations)
    if cosines.shape != correlations.shape or cosines.ndim != 2:
        raise ValueError(
            f"need equal (features, seeds) arrays, got {cosines.shape}, {correlations.shape}"
        )
    return np.maximum(np.minimum(cosines, correlations), 0.0).mean(axis=1)
