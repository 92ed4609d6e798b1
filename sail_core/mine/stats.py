"""Per-feature activation statistics, accumulated over row chunks.

Memory is O(n_latents x (n_splits + n_scans)), independent of the number of rows.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp


class FeatureStats:
    def __init__(self, n_latents: int, splits: list[str], n_scans: int) -> None:
        self.n_latents = n_latents
        self.splits = list(splits)
        self.rows_per_split = np.zeros(len(splits), dtype=np.int64)
        self.fires = np.zeros((len(splits), n_latents), dtype=np.int64)
        self.sums = np.zeros(n_latents, dtype=np.float64)
        self.maxima = np.zeros(n_latents, dtype=np.float64)
        self.scans_fired = np.zeros((n_latents, n_scans), dtype=bool)

    def update(
        self, chunk: sp.csr_matrix, split_codes: np.ndarray, scans: np.ndarray, keep: np.ndarray
    ) -> None:
        """Add a chunk; per chunk row its split code (position in `splits`), scan, inclusion."""
        self.rows_per_split += np.bincount(split_codes[keep], minlength=len(self.splits))
        coo = chunk.tocoo()
        selected = keep[coo.row] & (coo.data > 0)
        rows = coo.row[selected]
        features = coo.col[selected]
        values = coo.data[selected].astype(np.float64)
        flat = split_codes[rows] * self.n_latents + features
        self.fires += np.bincount(flat, minlength=self.fires.size).reshape(self.fires.shape)
        self.sums += np.bincount(features, weights=values, minlength=self.n_latents)
        np.maximum.at(self.maxima, features, values)
        self.scans_fired[features, scans[rows]] = True

    def result(self) -> pl.DataFrame:
        """One row per feature: fires, frequency, means, max, scans, per-split fires, flags."""
        n_rows = int(self.rows_per_split.sum())
        fires = self.fires.sum(axis=0)
        columns = {
            "feature": np.arange(self.n_latents, dtype=np.int32),
            "n_fires": fires,
            "frequency": fires / n_rows if n_rows else np.full(self.n_latents, np.nan),
            "mean_activation": self.sums / n_rows if n_rows else np.full(self.n_latents, np.nan),
            "mean_when_active": np.divide(
                self.sums, fires, out=np.full(self.n_latents, np.nan), where=fires > 0
            ),
            "max_activation": self.maxima,
            "n_scans": self.scans_fired.sum(axis=1),
        }
        for position, split in enumerate(self.splits):
            split_rows = self.rows_per_split[position]
            columns[f"n_fires_{split}"] = self.fires[position]
            columns[f"frequency_{split}"] = (
                self.fires[position] / split_rows if split_rows else np.full(self.n_latents, np.nan)
            )
            columns[f"alive_{split}"] = self.fires[position] > 0
        columns["dead"] = fires == 0
        columns["always_active"] = (fires == n_rows) & (n_rows > 0)
        return pl.DataFrame(columns)
