"""Top-activating slices per feature, one slice per scan, accumulated over row chunks.

A scan is (modality, image_id): CT s0001 and MRI s0001 are different scans. The result is exact
whatever the chunking: a scan dropped from a feature's top-n can only come back with a higher
value, which the next merge sees.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp


def _first_of_runs(*keys: np.ndarray) -> np.ndarray:
    first = np.ones(keys[0].size, dtype=bool)
    if keys[0].size:
        change = np.zeros(keys[0].size - 1, dtype=bool)
        for key in keys:
            change |= key[1:] != key[:-1]
        first[1:] = change
    return first


class TopPerScan:
    """The n highest activations of every feature, keeping only the best slice of each scan.

    Ties are broken by the smaller row id, so the result does not depend on the chunking.
    """

    def __init__(self, n_top: int) -> None:
        if n_top < 1:
            raise ValueError(f"n_top must be positive, got {n_top}")
        self.n_top = n_top
        self.feature = np.empty(0, dtype=np.int64)
        self.scan = np.empty(0, dtype=np.int64)
        self.value = np.empty(0, dtype=np.float32)
        self.row = np.empty(0, dtype=np.int64)

    def update(
        self, chunk: sp.csr_matrix, row_ids: np.ndarray, scans: np.ndarray, keep: np.ndarray
    ) -> None:
        """Merge a chunk; `row_ids`, `scans`, `keep` give each chunk row's id, scan, inclusion."""
        coo = chunk.tocoo()
        selected = keep[coo.row] & (coo.data > 0)
        rows = coo.row[selected]
        feature = np.concatenate([self.feature, coo.col[selected].astype(np.int64)])
        scan = np.concatenate([self.scan, scans[rows]])
        value = np.concatenate([self.value, coo.data[selected].astype(np.float32)])
        row = np.concatenate([self.row, row_ids[rows]])

        order = np.lexsort((row, -value, scan, feature))
        order = order[_first_of_runs(feature[order], scan[order])]
        feature, scan, value, row = feature[order], scan[order], value[order], row[order]

        order = np.lexsort((row, -value, feature))
        feature, scan, value, row = feature[order], scan[order], value[order], row[order]
        rank = np.arange(feature.size) - np.searchsorted(feature, feature, side="left")
        kept = rank < self.n_top
        self.feature, self.scan, self.value, self.row = (
            feature[kept],
            scan[kept],
            value[kept],
            row[kept],
        )

    def result(self) -> pl.DataFrame:
        """feature, rank (0 = highest), row_id, activation; sorted by feature then rank."""
        rank = np.arange(self.feature.size) - np.searchsorted(
            self.feature, self.feature, side="left"
        )
        return pl.DataFrame(
            {
                "feature": self.feature.astype(np.int32),
                "rank": rank.astype(np.int32),
                "row_id": self.row,
                "activation": self.value,
            }
        )
