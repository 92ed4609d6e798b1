"""Cross-encoder alignment: which features of encoder A have a twin in encoder B?

Features are matched one-to-one (Hungarian) on their activation correlation over the same slices.
A matched pair is a shared concept when its correlation beats chance: the threshold is a quantile
of the null distribution of each feature's best correlation when B's scans are shuffled against
A's (B's rows regrouped scan by scan in a random scan order and paired with A's rows by
position), which keeps each feature's firing pattern within a scan but breaks the slice-to-slice
correspondence. Features that fire on the slices, have no shared twin and correlate with no
feature of the other encoder beyond that threshold are unique.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from sail_core.universality.matching import activation_correlation, active_features, one_to_one

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NullSettings:
    n_permutations: int
    quantile: float
    seed: int

    def __post_init__(self) -> None:
        if self.n_permutations < 1:
            raise ValueError(f"n_permutations must be positive, got {self.n_permutations}")
        if not 0.5 <= self.quantile < 1.0:
            raise ValueError(f"the null quantile must lie in [0.5, 1), got {self.quantile}")


def scan_block_permutation(scans: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """Row positions regrouped scan by scan, with every scan moved to another scan's slot.

    The slot order is a random cyclic permutation (Sattolo's algorithm), so no scan keeps its
    own place.
    """
    names, inverse = np.unique(scans, return_inverse=True)
    if names.size < 2:
        raise ValueError("a scan-shuffled null needs rows of at least two scans")
    slots = np.arange(names.size)
    for i in range(names.size - 1, 0, -1):
        j = int(generator.integers(0, i))
        slots[i], slots[j] = slots[j], slots[i]
    blocks = [np.flatnonzero(inverse == scan) for scan in range(names.size)]
    return np.concatenate([blocks[scan] for scan in slots])


def null_best_correlations(
    a: sp.csr_matrix, b: sp.csr_matrix, scans: np.ndarray, settings: NullSettings, chunk_rows: int
) -> np.ndarray:
    """Best correlation of every active feature (of A with B and of B with A) per shuffle."""
    generator = np.random.default_rng(settings.seed)
    keep_a, keep_b = active_features(a), active_features(b)
    best = []
    for draw in range(settings.n_permutations):
        shuffled = b[scan_block_permutation(scans, generator)]
        correlation = activation_correlation(a, shuffled, chunk_rows)
        best += [correlation.max(axis=1)[keep_a], correlation.max(axis=0)[keep_b]]
        logger.info("null shuffle %d of %d done", draw + 1, settings.n_permutations)
    return np.concatenate(best)


def align_features(
    a: sp.csr_matrix, b: sp.csr_matrix, scans: np.ndarray, settings: NullSettings, chunk_rows: int
) -> tuple[pl.DataFrame, dict]:
    """(one row per feature of A or B: its matched twin, correlation, shared; the summary)."""
    if a.shape[0] != b.shape[0] or scans.shape[0] != a.shape[0]:
        raise ValueError(
            f"codes of {a.shape[0]} and {b.shape[0]} rows with {scans.shape[0]} scan labels"
        )
    n_scans = np.unique(scans).size
    if n_scans < 5:
        logger.warning("only %d scans: the scan-shuffled null has few distinct shuffles", n_scans)
    correlation = activation_correlation(a, b, chunk_rows)
    null = null_best_correlations(a, b, scans, settings, chunk_rows)
    threshold = float(np.quantile(null, settings.quantile)) if null.size else 1.0
    rows, cols = one_to_one(correlation)
    active_a, active_b = active_features(a), active_features(b)
    pair_correlation = correlation[rows, cols]
    shared = (pair_correlation > threshold) & active_a[rows] & active_b[cols]
    twin_a = np.full(a.shape[1], -1, dtype=np.int64)
    twin_b = np.full(b.shape[1], -1, dtype=np.int64)
    twin_a[rows[shared]] = cols[shared]
    twin_b[cols[shared]] = rows[shared]
    tables = []
    for side, twins, active, paired, best in (
        ("a", twin_a, active_a, correlation, correlation.max(axis=1, initial=0.0)),
        ("b", twin_b, active_b, correlation.T, correlation.max(axis=0, initial=0.0)),
    ):
        features = np.arange(twins.size, dtype=np.int64)
        matched = twins >= 0
        tables.append(
            pl.DataFrame(
                {
                    "side": side,
                    "feature": features,
                    "active": active,
                    "twin": twins,
                    "correlation": np.where(
                        matched, paired[features, np.maximum(twins, 0)], np.nan
                    ).astype(np.float64),
                    "best_correlation": best.astype(np.float64),
                    # no twin and nothing on the other side beats chance: a concept of its own
                    "unique": active & ~matched & (best <= threshold),
                }
            )
        )
    table = pl.concat(tables)
    summary = {
        "threshold": threshold,
        "null_quantile": settings.quantile,
        "null_permutations": settings.n_permutations,
        "null_seed": settings.seed,
        "null_values": int(null.size),
        "n_rows": int(a.shape[0]),
        "n_scans": int(n_scans),
        "shared": int(shared.sum()),
        "active_a": int(active_a.sum()),
        "active_b": int(active_b.sum()),
    }
    for side in ("a", "b"):
        rows_ = table.filter(pl.col("side") == side)
        summary[f"unique_{side}"] = int(rows_["unique"].sum())
        # active, without a one-to-one twin, yet correlated beyond chance with some feature
        # of the other side (typically one of several features splitting a concept there)
        summary[f"no_twin_correlated_{side}"] = int(
            (rows_["active"] & (rows_["twin"] < 0) & ~rows_["unique"]).sum()
        )
    logger.info("alignment: %s", summary)
    return table, summary
