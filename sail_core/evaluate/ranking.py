"""Ranking the SAE configurations of one encoder (the study's §8.3, with pinned definitions).

- rank_mono: descending rank of the configured monosemanticity statistic (a name from the
  monosemanticity scores, e.g. m10_top10_mean or m10_top50_mean).
- rank_perf, with `perf_statistic`:
  - `mean_n_features` (ascending): over the targets kept in every config (dense AUROC on the
    report split above the cut-off) and every recovery fraction, the mean number of top-|coef|
    features needed; a NaN (never reached) becomes that fraction's largest value in the config
    plus one, or the largest N evaluated when no target reaches it (the study filled 100 = its
    largest N).
  - `recovery_curve_area` (descending): the area under the ratio-of-means recovery curve of the
    top-|coef| features on the report split against log N, divided by the log N range, i.e. the
    mean recovery with equal weight per decade of N.
- rank_combined = (rank_mono + rank_perf) / 2; final_rank = its rank. Ties share the smallest
  rank; a config without a value ranks last. The selected config has final rank 1 (ties broken
  by rank_perf, then by name) unless configs are named explicitly.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from sail_core.evaluate.protocol import selection_note

PERF_STATISTICS = {"mean_n_features": False, "recovery_curve_area": True}
TOP_METHOD = "sae_top_coefficients"
RANKING_INPUT_SCHEMA = {
    "encoder": pl.Utf8,
    "sae": pl.Utf8,
    "mono_statistic": pl.Utf8,
    "mono_value": pl.Float64,
    "perf_statistic": pl.Utf8,
    "perf_value": pl.Float64,
    "n_targets": pl.Int64,
    "chosen_on": pl.Utf8,
}


def recovery_curve_area(n_values, recovery) -> float:
    """Trapezoid area under recovery(N) over log N, divided by the log N range."""
    n = np.asarray(n_values, dtype=np.float64)
    r = np.asarray(recovery, dtype=np.float64)
    keep = ~np.isnan(r)
    n, r = n[keep], r[keep]
    if n.size == 0:
        return math.nan
    if n.size == 1:
        return float(r[0])
    order = np.argsort(n)
    x, y = np.log(n[order]), r[order]
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum() / (x[-1] - x[0]))


def mean_n_features(thresholds: pl.DataFrame, largest_n: int) -> float:
    """Mean over targets and fractions of N needed, NaNs filled as described above."""
    rows = thresholds.filter(pl.col("method") == TOP_METHOD)
    if rows.height == 0:
        return math.nan
    filled = []
    for _, part in rows.group_by("fraction"):
        values = part["n_features"].to_numpy().astype(np.float64)
        fill = np.nanmax(values) + 1 if np.isfinite(values).any() else float(largest_n)
        filled.append(np.where(np.isnan(values), fill, values))
    return float(np.concatenate(filled).mean())


def perf_value(
    statistic: str, thresholds: pl.DataFrame, summary: pl.DataFrame, split: str, largest_n: int
) -> float:
    if statistic == "mean_n_features":
        return mean_n_features(thresholds, largest_n)
    curve = summary.filter((pl.col("method") == TOP_METHOD) & (pl.col("split") == split))
    return recovery_curve_area(curve["n_features"], curve["ratio_of_means"].fill_null(np.nan))


def _min_rank(values: pl.Series, descending: bool) -> pl.Series:
    ranked = values.fill_nan(None).rank(method="min", descending=descending)
    return ranked.fill_null(values.len()).cast(pl.Int64)


def rank_configs(
    table: pl.DataFrame, perf_statistic: str, named: list[str] | None = None
) -> pl.DataFrame:
    """`table` has sae, mono_value, perf_value; adds the ranks and the `selected` flag."""
    if perf_statistic not in PERF_STATISTICS:
        raise ValueError(f"unknown perf_statistic {perf_statistic!r}")
    ranked = table.with_columns(
        _min_rank(table["mono_value"], descending=True).alias("rank_mono"),
        _min_rank(table["perf_value"], descending=PERF_STATISTICS[perf_statistic]).alias(
            "rank_perf"
        ),
    ).with_columns(((pl.col("rank_mono") + pl.col("rank_perf")) / 2).alias("rank_combined"))
    ranked = ranked.with_columns(
        pl.col("rank_combined").rank(method="min").cast(pl.Int64).alias("final_rank")
    )
    if named:
        unknown = sorted(set(named) - set(ranked["sae"]))
        if unknown:
            raise ValueError(f"configs named for selection are not ranked: {', '.join(unknown)}")
        chosen = set(named)
    else:
        chosen = (
            {ranked.sort("final_rank", "rank_perf", "sae")["sae"][0]} if ranked.height else set()
        )
    return ranked.with_columns(pl.col("sae").is_in(list(chosen)).alias("selected")).sort(
        "final_rank", "rank_perf", "sae"
    )


def common_targets(thresholds: dict[str, pl.DataFrame], min_dense_auc: float) -> pl.DataFrame:
    """(group, target) kept in every config: dense AUROC above the cut-off everywhere."""
    kept = None
    for table in thresholds.values():
        keys = table.filter(pl.col("dense_auc") > min_dense_auc).select("group", "target").unique()
        kept = keys if kept is None else kept.join(keys, on=["group", "target"], how="inner")
    return kept if kept is not None else pl.DataFrame(schema={"group": pl.Utf8, "target": pl.Utf8})


def build_ranking(
    encoder: str,
    mono_scores: dict[str, pl.DataFrame],
    thresholds: dict[str, pl.DataFrame],
    summaries: dict[str, pl.DataFrame],
    mono_statistic: str,
    perf_statistic: str,
    min_dense_auc: float,
    report_split: str,
    largest_n: int,
    named: list[str] | None = None,
) -> pl.DataFrame:
    """The ranking table of one encoder; every input dict is keyed by SAE config name."""
    targets = common_targets(thresholds, min_dense_auc)
    records = []
    for sae in sorted(mono_scores):
        scores = dict(mono_scores[sae].iter_rows())
        if mono_statistic not in scores:
            raise ValueError(f"{encoder}/{sae}: no monosemanticity statistic {mono_statistic!r}")
        kept = thresholds[sae].join(targets, on=["group", "target"], how="semi")
        records.append(
            {
                "encoder": encoder,
                "sae": sae,
                "mono_statistic": mono_statistic,
                "mono_value": scores[mono_statistic],
                "perf_statistic": perf_statistic,
                "perf_value": perf_value(
                    perf_statistic, kept, summaries[sae], report_split, largest_n
                ),
                "n_targets": targets.height,
                "chosen_on": selection_note(report_split),
            }
        )
    table = pl.DataFrame(records, schema=RANKING_INPUT_SCHEMA)
    return rank_configs(table, perf_statistic, named)
