"""How well single features detect structures: AUROC of a feature's activation as the score for
a structure's presence, for every (feature, structure) pair at once.

With the Mann-Whitney form of AUROC (ties count one half, as in linear.roc_auc), the rank sum of
the positive rows splits into the ranks of the non-zero activations and the shared mid-rank of
the zeros, so two sparse products give the whole (features x structures) table.

The maximum over thousands of features, scored on the rows it was picked on, is optimistic (most
of all for rare structures and small strata), so each structure's feature is chosen on one set of
rows and reported on another.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.metrics import average_ranks


def single_feature_auroc(codes: sp.csr_matrix, presence: np.ndarray) -> np.ndarray:
    """(n_features, n_structures) AUROC; NaN for a structure present on no row or on all."""
    columns = sp.csc_matrix(codes, dtype=np.float64)
    columns.eliminate_zeros()
    n_rows = columns.shape[0]
    n_zero = n_rows - np.diff(columns.indptr)
    ranks = np.empty_like(columns.data)
    for feature in range(columns.shape[1]):
        start, stop = columns.indptr[feature], columns.indptr[feature + 1]
        ranks[start:stop] = n_zero[feature] + average_ranks(columns.data[start:stop])
    rank_matrix = sp.csc_matrix((ranks, columns.indices, columns.indptr), shape=columns.shape)
    fired = sp.csc_matrix(
        (np.ones_like(ranks), columns.indices, columns.indptr), shape=columns.shape
    )
    present = np.asarray(presence, dtype=np.float64)
    n_positive = present.sum(axis=0)
    positive_fired = np.asarray(fired.T @ present)
    rank_sum = np.asarray(rank_matrix.T @ present) + ((n_zero + 1) / 2)[:, None] * (
        n_positive[None, :] - positive_fired
    )
    n_negative = n_rows - n_positive
    with np.errstate(divide="ignore", invalid="ignore"):
        auroc = (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)
    auroc[:, (n_positive == 0) | (n_negative == 0)] = np.nan
    return auroc


ALL_ROWS = "all"


def structure_detection(
    codes: sp.csr_matrix,
    presence: np.ndarray,
    structures: list[str],
    selection_rows: np.ndarray,
    heldout_rows: np.ndarray,
    threshold: float = 0.9,
    strata: np.ndarray | None = None,
) -> pl.DataFrame:
    """Per structure, the feature whose activation best detects it on `selection_rows` (the
    in-sample maximum, `insample_auroc`) and that same feature's AUROC on `heldout_rows`
    (`heldout_auroc`, the number to report); prevalence and n_positive are those of the held-out
    rows. Over all rows (stratum "all") and, when `strata` labels the rows, within each stratum,
    choosing and scoring inside it (e.g. "ct axial": whether a structure is in a slice means
    something else in each plane)."""
    selection_rows, heldout_rows = np.asarray(selection_rows), np.asarray(heldout_rows)
    tables = [
        _detection(
            codes, presence, structures, selection_rows, heldout_rows, threshold
        ).with_columns(stratum=pl.lit(ALL_ROWS))
    ]
    if strata is not None:
        strata = np.asarray(strata)
        for stratum in sorted(set(strata.tolist())):
            tables.append(
                _detection(
                    codes,
                    presence,
                    structures,
                    selection_rows[strata[selection_rows] == stratum],
                    heldout_rows[strata[heldout_rows] == stratum],
                    threshold,
                ).with_columns(stratum=pl.lit(str(stratum)))
            )
    return pl.concat(tables).select("stratum", pl.exclude("stratum"))


def _detection(
    codes: sp.csr_matrix,
    presence: np.ndarray,
    structures: list[str],
    selection_rows: np.ndarray,
    heldout_rows: np.ndarray,
    threshold: float,
) -> pl.DataFrame:
    n_structures = len(structures)
    if selection_rows.size:
        auroc = single_feature_auroc(codes[selection_rows], presence[selection_rows])
    else:
        auroc = np.full((codes.shape[1], n_structures), np.nan)
    defined = ~np.isnan(auroc).all(axis=0)
    best = np.argmax(np.nan_to_num(auroc, nan=-np.inf), axis=0)
    heldout = presence[heldout_rows]
    heldout_auroc = np.full(n_structures, np.nan)
    if heldout_rows.size and defined.any():
        chosen = np.flatnonzero(defined)
        scored = single_feature_auroc(codes[heldout_rows][:, best[chosen]], heldout[:, chosen])
        heldout_auroc[chosen] = np.diagonal(scored)
    n_heldout = max(heldout_rows.size, 1)
    best_feature = pl.col("best_feature")
    return (
        pl.DataFrame(
            {
                "structure": [s.removeprefix(STRUCTURE_PREFIX) for s in structures],
                "n_positive": heldout.sum(axis=0).astype(np.int64),
                "prevalence": heldout.sum(axis=0) / n_heldout,
                "n_selection_rows": np.full(n_structures, selection_rows.size, dtype=np.int64),
                "n_heldout_rows": np.full(n_structures, heldout_rows.size, dtype=np.int64),
                "best_feature": best.astype(np.int32),
                "insample_auroc": np.where(defined, auroc[best, np.arange(best.size)], np.nan),
                "heldout_auroc": heldout_auroc,
                "threshold": np.full(n_structures, threshold),
                "n_features_reaching_insample": (np.nan_to_num(auroc, nan=0.0) >= threshold).sum(
                    axis=0
                ),
            }
        )
        .with_columns(pl.when(pl.Series(defined)).then(best_feature).alias("best_feature"))
        .sort("prevalence", "structure", descending=[True, False])
    )
