"""The study's diverse sample: greedy max-min cosine dissimilarity over a feature's top slices."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp


def max_min_order(vectors: sp.csr_matrix, n_select: int) -> list[int]:
    """Positions picked greedily: first the top row, then each time the row whose smallest
    cosine dissimilarity (1 - cos) to the rows already picked is largest.

    Rows are expected in activation order, so ties go to the higher activation.
    """
    n = vectors.shape[0]
    if n == 0:
        return []
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    scaled = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ vectors
    dissimilarity = 1.0 - (scaled @ scaled.T).toarray()
    picked = [0]
    closest = dissimilarity[0].copy()
    while len(picked) < min(n_select, n):
        closest[picked] = -np.inf
        best = int(np.argmax(closest))
        picked.append(best)
        closest = np.minimum(closest, dissimilarity[best])
    return picked


def diverse_samples(top: pl.DataFrame, vectors: sp.csr_matrix, n_select: int) -> pl.DataFrame:
    """`top` (feature, rank, row_id; sorted) gains `diverse_order` (null when not picked).

    `vectors` holds the full sparse code of every row of `top`, in the same order.
    """
    order = np.full(top.height, -1, dtype=np.int32)
    features = top["feature"].to_numpy()
    bounds = np.flatnonzero(np.diff(features)) + 1
    for start, stop in zip(
        np.r_[0, bounds].astype(int), np.r_[bounds, top.height].astype(int), strict=True
    ):
        for position, picked in enumerate(max_min_order(vectors[start:stop], n_select)):
            order[start + picked] = position
    picked = pl.col("diverse_order")
    return top.with_columns(pl.Series("diverse_order", order)).with_columns(
        pl.when(picked >= 0).then(picked).alias("diverse_order")
    )
