"""Which features get a label: the best N by a ranking, plus a seeded random sample.

The random sample gives an unbiased estimate of label quality over all usable features; the
top-N alone would only describe the best ones. Usable = fires on the mined rows, is not active
on every row, and has enough top slices (one per scan) to show.
"""

from __future__ import annotations

import numpy as np
import polars as pl

RANKINGS = ("monosemanticity", "frequency_enrichment")
ENRICHED_ATTRIBUTES = ("structure", "region", "modality", "orientation", "sex", "age_bin")


def enrichment_score(enrichment: pl.DataFrame) -> pl.DataFrame:
    """Per feature the largest log odds ratio of an over-represented metadata value."""
    return (
        enrichment.filter(pl.col("attribute").is_in(ENRICHED_ATTRIBUTES))
        .group_by("feature")
        .agg(pl.col("log_odds_ratio").max().alias("enrichment"))
    )


def frequency_enrichment(stats: pl.DataFrame, enrichment: pl.DataFrame) -> pl.DataFrame:
    """feature, score = activation frequency x the largest positive enrichment."""
    return (
        stats.select(pl.col("feature").cast(pl.Int64), "frequency")
        .join(enrichment_score(enrichment).cast({"feature": pl.Int64}), on="feature", how="left")
        .select(
            "feature",
            (pl.col("frequency") * pl.col("enrichment").fill_null(0.0).clip(0.0)).alias("score"),
        )
    )


def ranking_scores(
    stats: pl.DataFrame,
    ranking: str,
    enrichment: pl.DataFrame,
    monosemanticity: pl.DataFrame | None = None,
    monosemanticity_column: str = "monosemanticity_10",
) -> pl.DataFrame:
    """feature, basis, tier, score: label lower tiers first, higher scores first.

    With "monosemanticity", features scored by it (tier 0) come before the rest, which keep the
    frequency x enrichment order (tier 1): small runs leave many features without enough
    held-out slices for a monosemanticity score.
    """
    fallback = frequency_enrichment(stats, enrichment).with_columns(
        pl.lit("frequency_enrichment").alias("basis"), pl.lit(0).alias("tier")
    )
    if ranking == "frequency_enrichment":
        return fallback.select("feature", "basis", "tier", "score")
    if ranking != "monosemanticity":
        raise ValueError(f"unknown ranking {ranking!r}; choose one of {', '.join(RANKINGS)}")
    if monosemanticity is None or monosemanticity_column not in monosemanticity.columns:
        raise ValueError(
            f"ranking 'monosemanticity' needs a feature table with column {monosemanticity_column!r}"
        )
    scored = (
        monosemanticity.select(
            pl.col("feature").cast(pl.Int64),
            pl.col(monosemanticity_column).cast(pl.Float64).fill_nan(None).alias("score"),
        )
        .drop_nulls("score")
        .with_columns(pl.lit(monosemanticity_column).alias("basis"), pl.lit(0).alias("tier"))
    )
    rest = fallback.filter(~pl.col("feature").is_in(scored["feature"].implode()))
    return pl.concat(
        [
            scored.select("feature", "basis", "tier", "score"),
            rest.select("feature", "basis", pl.lit(1).alias("tier"), "score"),
        ]
    )


def usable_features(stats: pl.DataFrame, top_counts: pl.DataFrame, min_samples: int) -> pl.Series:
    """Features that fire, are not always active, and have `min_samples` top slices."""
    return (
        stats.filter(~pl.col("dead") & ~pl.col("always_active"))
        .join(top_counts, on="feature", how="inner")
        .filter(pl.col("n_samples") >= min_samples)["feature"]
    )


def select_features(
    scores: pl.DataFrame, usable: pl.Series, n_top: int, n_random: int, seed: int
) -> pl.DataFrame:
    """feature, selection ("top" | "random"), selection_basis, selection_score; top first, in
    ranking order."""
    candidates = (
        scores.filter(pl.col("feature").is_in(usable.cast(pl.Int64).implode()))
        .with_columns(pl.col("score").cast(pl.Float64))
        .sort(["tier", "score", "feature"], descending=[False, True, False])
    )
    top = candidates.head(n_top)
    rest = candidates.filter(~pl.col("feature").is_in(top["feature"].implode())).sort("feature")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(rest.height, size=min(n_random, rest.height), replace=False))
    random = rest[picked.tolist()] if picked.size else rest.head(0)
    return pl.concat(
        [
            top.with_columns(pl.lit("top").alias("selection")),
            random.with_columns(pl.lit("random").alias("selection")),
        ]
    ).select(
        "feature",
        "selection",
        pl.col("basis").alias("selection_basis"),
        pl.col("score").alias("selection_score"),
    )


def sample_picks(
    top_slices: pl.DataFrame, splits: list[str], n_samples: int, diverse: bool
) -> pl.DataFrame:
    """feature, row_id, activation of the slices shown per feature, in showing order.

    Only slices of `splits` are shown (labels come from train, judging from held-out slices).
    With `diverse`, the study's greedy max-min sample (`diverse_order`) comes first, then the
    remaining top slices by rank.
    """
    rows = top_slices.filter(pl.col("split").is_in(splits))
    order = ["feature", "rank"]
    if diverse and "diverse_order" not in rows.columns:
        raise ValueError(
            "top slices carry no diverse_order (the mining stage's max-min sample); "
            "set labelling.selection.diverse to false"
        )
    if diverse:
        rows = rows.with_columns(pl.col("diverse_order").is_null().alias("not_diverse"))
        order = ["feature", "not_diverse", "diverse_order", "rank"]
    return (
        rows.sort(order, nulls_last=True)
        .group_by("feature", maintain_order=True)
        .head(n_samples)
        .select(pl.col("feature").cast(pl.Int64), "row_id", "activation")
    )
