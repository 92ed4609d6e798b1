"""Activation correlations streamed over row chunks, and one-to-one feature matching."""

from __future__ import annotations

import logging
import os

import numpy as np
import polars as pl
import scipy.sparse as sp
import zarr
from scipy.optimize import linear_sum_assignment

from sail_core.metrics import CrossCorrelation
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)


def split_row_ids(index: pl.DataFrame, splits: list[str]) -> np.ndarray:
    """Sorted row ids of the index rows in `splits`; raises when there are none."""
    rows = np.flatnonzero(index["split"].is_in(list(splits)).to_numpy())
    if rows.size == 0:
        raise ValueError(f"the slice index has no rows in the split(s) {list(splits)}")
    return rows


def read_split_codes(
    path: str | os.PathLike, rows: np.ndarray, index_hash: str, chunk_rows: int
) -> sp.csr_matrix:
    """The codes of `rows` (CSR, in that order), read through row chunks of the store."""
    return CodeStore(path, index_hash=index_hash).read_rows(rows, chunk_rows).astype(np.float32)


def check_same_slices(path_a: str | os.PathLike, path_b: str | os.PathLike) -> None:
    """Refuse two code stores that were not encoded from the same slices (same index)."""
    attrs = [dict(zarr.open_group(str(p), mode="r").attrs) for p in (path_a, path_b)]
    keys = [(a.get("index_hash"), a.get("n_rows")) for a in attrs]
    if keys[0] != keys[1] or keys[0][0] is None:
        raise ValueError(
            f"{path_a} and {path_b} do not code the same slices: index hash {keys[0][0]} with "
            f"{keys[0][1]} rows vs {keys[1][0]} with {keys[1][1]} rows; embed both encoders "
            "from the same slice index before comparing their features"
        )


def activation_correlation(a: sp.csr_matrix, b: sp.csr_matrix, chunk_rows: int) -> np.ndarray:
    """(n_a, n_b) Pearson correlation of every feature of `a` with every feature of `b`.

    Rows of a and b are the same slices in the same order; only one chunk of rows is densified
    in the product at a time, so memory is the (n_a, n_b) accumulator plus one chunk.
    """
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"codes cover {a.shape[0]} and {b.shape[0]} rows; they must be paired")
    stats = CrossCorrelation(a.shape[1], b.shape[1])
    for start in range(0, a.shape[0], chunk_rows):
        stop = min(start + chunk_rows, a.shape[0])
        stats.update(a[start:stop], b[start:stop])
        logger.debug("correlated rows %d-%d of %d", start, stop, a.shape[0])
    return stats.result().astype(np.float32)


def one_to_one(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every matched pair maximising the summed similarity (Hungarian)."""
    rows, cols = linear_sum_assignment(np.asarray(similarity, dtype=np.float64), maximize=True)
    return rows.astype(np.int64), cols.astype(np.int64)


def feature_levels(widths: list[int]) -> np.ndarray:
    """Matryoshka level of every feature: the nested block [w_(l-1), w_l) it belongs to."""
    bounds = np.asarray(widths)
    return np.searchsorted(bounds, np.arange(bounds[-1]), side="right").astype(np.int32)


def active_features(codes: sp.csr_matrix) -> np.ndarray:
    """Boolean per feature: fires on at least one of the rows."""
    return np.asarray((codes != 0).sum(axis=0)).ravel() > 0
