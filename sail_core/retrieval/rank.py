"""Slices ranked by the activations of the matched features, one slice per scan.

Two scores over the matched features j (only slices on which at least one fires are ranked):
- "cosine", the study's: cosine between the slice's activations and the query fingerprint (each
  feature's mean activation on its labelled samples); with one feature 1 / (1 + |x - q|). It
  ignores magnitude, so weak but well-proportioned slices tie with strong ones.
- "weighted": the mean over j of x_j / top_j (top_j = the feature's highest labelled activation),
  which rewards slices where the matched features fire strongly.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sail_core.columns import SCAN_KEY

SCORINGS = ("cosine", "weighted")


def score_slices(
    activations: np.ndarray, fingerprint: np.ndarray, top: np.ndarray, scoring: str
) -> np.ndarray:
    """A score per row of `activations` (rows x matched features); NaN where none fires."""
    fires = (activations > 0).any(axis=1)
    if scoring == "cosine":
        if activations.shape[1] == 1:
            scores = 1.0 / (1.0 + np.abs(activations[:, 0] - fingerprint[0]))
        else:
            norms = np.linalg.norm(activations, axis=1) * np.linalg.norm(fingerprint)
            scores = np.divide(
                activations @ fingerprint, norms, out=np.zeros(len(norms)), where=norms > 0
            )
    elif scoring == "weighted":
        scores = (activations / top).mean(axis=1)
    else:
        raise ValueError(f"unknown scoring {scoring!r}; choose one of {', '.join(SCORINGS)}")
    return np.where(fires, scores, np.nan)


def top_slices_per_scan(rows: pl.DataFrame, scores: np.ndarray, k: int) -> pl.DataFrame:
    """The k best-scoring rows (index columns + row_id), one per scan, with rank and score."""
    return (
        rows.with_columns(pl.Series("score", scores))
        .filter(pl.col("score").is_not_nan())
        .sort(["score", "row_id"], descending=[True, False])
        .unique(subset=list(SCAN_KEY), keep="first", maintain_order=True)
        .head(k)
        .with_row_index("rank", offset=1)
    )
