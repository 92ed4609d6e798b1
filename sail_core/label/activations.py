"""Activations of chosen features read from a CSR code store, restricted to some rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sail_core.sae.codes import CodeStore


@dataclass(frozen=True)
class Activations:
    rows: np.ndarray
    values: np.ndarray


def feature_activations(
    store: CodeStore, features: list[int], row_mask: np.ndarray, chunk_rows: int
) -> dict[int, Activations]:
    """Non-zero activations of `features` on the rows where `row_mask` is true."""
    columns = np.asarray(features, dtype=np.int64)
    found_rows, found_cols, found_values = [], [], []
    for start, chunk in store.iter_chunks(chunk_rows):
        part = chunk[:, columns].tocoo()
        keep = row_mask[start + part.row] & (part.data > 0)
        found_rows.append(start + part.row[keep].astype(np.int64))
        found_cols.append(part.col[keep])
        found_values.append(part.data[keep])
    rows = np.concatenate(found_rows) if found_rows else np.empty(0, dtype=np.int64)
    cols = np.concatenate(found_cols) if found_cols else np.empty(0, dtype=np.int64)
    values = np.concatenate(found_values) if found_values else np.empty(0, dtype=np.float32)
    return {
        int(feature): Activations(rows[cols == position], values[cols == position])
        for position, feature in enumerate(features)
    }


def top_per_scan(activations: Activations, scans: np.ndarray, n: int) -> Activations:
    """The n highest activations, one slice per scan (ties to the smaller row id)."""
    order = np.lexsort((activations.rows, -activations.values))
    rows, values = activations.rows[order], activations.values[order]
    _, first = np.unique(scans[rows], return_index=True)
    best = np.sort(first)[:n]
    return Activations(rows[best], values[best])
