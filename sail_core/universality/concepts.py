"""Shared and unique concepts of two aligned encoders, in words: labels and top structures."""

from __future__ import annotations

import polars as pl

LABEL_COLUMNS = ("feature", "label")


def _labels(labels: pl.DataFrame | None) -> pl.DataFrame:
    if labels is None:
        return pl.DataFrame(schema={"feature": pl.Int64, "label": pl.Utf8})
    return labels.select(pl.col("feature").cast(pl.Int64), "label")


def top_structures(enrichment: pl.DataFrame | None, n: int) -> pl.DataFrame:
    """Per feature, its `n` most enriched structures among its top slices (mining output)."""
    if enrichment is None or enrichment.is_empty():
        return pl.DataFrame(schema={"feature": pl.Int64, "top_structures": pl.List(pl.Utf8)})
    return (
        enrichment.filter(pl.col("attribute") == "structure")
        .sort(["feature", "log_odds_ratio"], descending=[False, True])
        .group_by("feature", maintain_order=True)
        .agg(pl.col("value").head(n).alias("top_structures"))
        .with_columns(pl.col("feature").cast(pl.Int64))
    )


def shared_concepts(
    alignment: pl.DataFrame, labels_a: pl.DataFrame | None, labels_b: pl.DataFrame | None
) -> pl.DataFrame:
    """One row per shared twin pair, strongest first, with the label of each side (or null)."""
    pairs = alignment.filter((pl.col("side") == "a") & (pl.col("twin") >= 0)).select(
        feature_a="feature", feature_b="twin", correlation="correlation"
    )
    return (
        pairs.join(_labels(labels_a).rename({"feature": "feature_a", "label": "label_a"}),
                   on="feature_a", how="left")
        .join(_labels(labels_b).rename({"feature": "feature_b", "label": "label_b"}),
              on="feature_b", how="left")
        .sort("correlation", descending=True)
    )  # fmt: skip


def unique_features(
    alignment: pl.DataFrame,
    side: str,
    labels: pl.DataFrame | None,
    enrichment: pl.DataFrame | None,
    n_structures: int,
) -> pl.DataFrame:
    """Unique features of one side (see alignment): label, top structures, best correlation."""
    own = alignment.filter((pl.col("side") == side) & pl.col("unique"))
    return (
        own.select("feature", "best_correlation")
        .join(_labels(labels), on="feature", how="left")
        .join(top_structures(enrichment, n_structures), on="feature", how="left")
        .sort(["label", "feature"], nulls_last=True)
    )
