"""Which metadata values are over-represented among a feature's top slices.

For a value with k hits among a feature's n top slices and K hits among the N base rows:
- lift = (k / n) / (K / N);
- log odds ratio with Haldane's 0.5 correction,
  ln((k + 0.5) / (n - k + 0.5)) - ln((K + 0.5) / (N - K + 0.5)).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from sail_core.columns import region_columns, structure_columns

CATEGORICAL_ATTRIBUTES = {
    "modality": "modality",
    "orientation": "orientation",
    "sex": "gender",
    "age_bin": "age_bin",
}
_KEY_SCHEMA = {"attribute": pl.Utf8, "value": pl.Utf8}


def attribute_indicators(index: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame]:
    """Boolean (rows, attribute values) matrix and its columns (attribute, value)."""
    blocks, attributes, values = [], [], []
    for attribute, columns in (
        ("structure", structure_columns(index)),
        ("region", region_columns(index)),
    ):
        if columns:
            blocks.append(index.select(columns).to_numpy().astype(bool))
            attributes += [attribute] * len(columns)
            values += [c.split("_", 1)[1] for c in columns]
    for attribute, column in CATEGORICAL_ATTRIBUTES.items():
        if column not in index.columns:
            continue
        labels = index[column].cast(pl.Utf8)
        for value in sorted(labels.drop_nulls().unique().to_list()):
            blocks.append((labels == value).fill_null(False).to_numpy()[:, None])
            attributes.append(attribute)
            values.append(value)
    matrix = np.hstack(blocks) if blocks else np.zeros((index.height, 0), dtype=bool)
    return matrix, pl.DataFrame({"attribute": attributes, "value": values}, schema=_KEY_SCHEMA)


def enrichment(
    top: pl.DataFrame, index: pl.DataFrame, base_mask: np.ndarray, min_count: int
) -> pl.DataFrame:
    """Over-represented values (lift > 1, at least `min_count` hits) per feature.

    `top` holds (feature, row_id) of the top slices; the base rate comes from the index rows in
    `base_mask`; row ids are positions in `index`.
    """
    indicators, keys = attribute_indicators(index)
    base_total = int(base_mask.sum())
    base_count = indicators[base_mask].sum(axis=0)
    features, feature_codes = np.unique(top["feature"].to_numpy(), return_inverse=True)
    membership = sp.csr_matrix(
        (np.ones(top.height), (feature_codes, np.arange(top.height))),
        shape=(features.size, top.height),
    )
    counts = np.asarray(membership @ indicators[top["row_id"].to_numpy()].astype(np.float64))
    n_top = np.asarray(membership.sum(axis=1)).ravel()

    feature_pos, value_pos = np.nonzero(counts >= max(min_count, 1))
    k = counts[feature_pos, value_pos]
    n = n_top[feature_pos]
    big_k = base_count[value_pos].astype(np.float64)
    table = pl.DataFrame(
        {
            "feature": features[feature_pos].astype(np.int32),
            "attribute": keys["attribute"].to_numpy()[value_pos],
            "value": keys["value"].to_numpy()[value_pos],
            "count": k.astype(np.int64),
            "n_top": n.astype(np.int64),
            "base_count": big_k.astype(np.int64),
            "base_total": np.full(k.size, base_total, dtype=np.int64),
            "top_rate": k / n,
            "base_rate": big_k / base_total,
            "lift": (k / n) / (big_k / base_total),
            "log_odds_ratio": np.log((k + 0.5) / (n - k + 0.5))
            - np.log((big_k + 0.5) / (base_total - big_k + 0.5)),
        }
    )
    return table.filter(pl.col("lift") > 1).sort(
        ["feature", "log_odds_ratio", "attribute", "value"], descending=[False, True, False, False]
    )
