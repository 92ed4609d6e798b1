"""Dense embeddings and sparse codes of the rows a probe needs, addressed by row id."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sail_core.sae.codes import CodeStore


class Features:
    """A feature matrix (CSR or dense) over a sorted set of row ids."""

    def __init__(self, row_ids: np.ndarray, matrix) -> None:
        self.row_ids = np.asarray(row_ids, dtype=np.int64)
        self.matrix = matrix

    def take(self, row_ids: np.ndarray):
        positions = np.searchsorted(self.row_ids, row_ids)
        loaded = positions < self.row_ids.size
        if not (loaded.all() and np.array_equal(self.row_ids[positions], row_ids)):
            raise KeyError("rows asked for were not loaded")
        return self.matrix[positions]

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]


def load_features(
    row_ids: np.ndarray,
    store: CodeStore,
    load_dense: Callable[[np.ndarray], np.ndarray],
    l2_normalise: bool,
) -> dict[str, Features]:
    """Dense embeddings (optionally L2-normalised, as the SAE sees them) and sparse codes."""
    dense = np.asarray(load_dense(row_ids), dtype=np.float32)
    if l2_normalise:
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        dense = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    return {
        "dense": Features(row_ids, dense),
        "sparse": Features(row_ids, store.read_rows(row_ids)),
    }


def needed_rows(splits: np.ndarray, train_rows: dict[str, np.ndarray]) -> np.ndarray:
    """Every val and test row and every group's training rows."""
    evaluated = np.flatnonzero(np.isin(splits, ("val", "test")))
    return np.unique(np.concatenate([evaluated, *train_rows.values()]))
