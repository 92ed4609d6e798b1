"""Monosemanticity of every feature (the study's §8.1) and the configuration scores (§8.2).

A feature's top-N set is its N highest-activating slices with at most one slice per scan
(modality, image_id). Coherence C(N) is the mean pairwise Jaccard of their structure vectors,
specificity S(N) the entropy-based concentration of their structures, and
M(N) = max(0, C(N) - null(N)) * S(N), with null(N) the mean coherence of N random slices of the
same rows. Features firing on every row are not scored; nor are features with fewer scans than
the smallest N, and M(N) is NaN for an N above a feature's scan count. Beside it, the best
single feature detecting every structure's presence, chosen on `detection_selection_splits`
and scored on the held-out split (detection.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from sail_core import metrics
from sail_core.columns import structure_columns
from sail_core.evaluate.detection import structure_detection
from sail_core.evaluate.protocol import HELD_OUT_SPLIT
from sail_core.mine.mining import stream_features
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

TOP_MEANS = (10, 50)


@dataclass(frozen=True)
class MonosemanticitySettings:
    splits: list[str]
    n_values: tuple[int, ...]
    null_draws: int
    detection_auroc: float
    chunk_rows: int
    seed: int
    detection_selection_splits: tuple[str, ...] = ("train",)
    detection_heldout_split: str = HELD_OUT_SPLIT


@dataclass(frozen=True)
class MonosemanticityResult:
    features: pl.DataFrame
    null: pl.DataFrame
    scores: pl.DataFrame
    detection: pl.DataFrame


def null_baseline(
    presence: np.ndarray, n_values: tuple[int, ...], draws: int, seed: int
) -> pl.DataFrame:
    """Mean and sd of the coherence of N slices drawn at random (without replacement)."""
    rng = np.random.default_rng(seed)
    records = []
    for n in n_values:
        if presence.shape[0] < n:
            records.append({"n": n, "null_mean": np.nan, "null_sd": np.nan, "draws": 0})
            continue
        values = [
            metrics.mean_pairwise_jaccard(presence[rng.choice(presence.shape[0], n, replace=False)])
            for _ in range(draws)
        ]
        records.append(
            {
                "n": n,
                "null_mean": float(np.mean(values)),
                "null_sd": float(np.std(values)),
                "draws": draws,
            }
        )
    return pl.DataFrame(records)


def score_features(
    top: pl.DataFrame, presence: np.ndarray, null: dict[int, float], n_values: tuple[int, ...]
) -> pl.DataFrame:
    """Coherence, specificity and M per feature and N; `top` is sorted by feature and rank and
    its row ids index `presence`."""
    records = []
    for (feature,), group in top.group_by("feature", maintain_order=True):
        rows = group["row_id"].to_numpy()
        record = {"feature": feature, "n_retrieved": rows.size}
        for n in n_values:
            if rows.size >= n:
                coherence = metrics.mean_pairwise_jaccard(presence[rows[:n]])
                specificity = metrics.specificity(presence[rows[:n]])
                m = metrics.monosemanticity(coherence, null[n], specificity)
            else:
                coherence = specificity = m = np.nan
            record |= {
                f"coherence_{n}": coherence,
                f"specificity_{n}": specificity,
                f"monosemanticity_{n}": m,
            }
        records.append(record)
    columns = {"feature": pl.Int32, "n_retrieved": pl.Int64}
    for n in n_values:
        columns |= {
            f"{name}_{n}": pl.Float64 for name in ("coherence", "specificity", "monosemanticity")
        }
    return pl.DataFrame(records, schema=columns)


def _top_mean(values: pl.Series, count: int) -> float:
    kept = values.drop_nans().drop_nulls()
    return float(kept.top_k(count).mean()) if kept.len() else np.nan


def config_scores(
    features: pl.DataFrame, null: dict[int, float], n_values: tuple[int, ...]
) -> pl.DataFrame:
    """Configuration scores as (statistic, value) rows with explicit names.

    `m{N}_top{T}_mean` is the mean of the T largest M(N): m10_top10_mean is the study code's
    M_config, m10_top50_mean the value its released ranking used. With fewer than T scored
    features the mean is over those there are (see n_features_scored).
    """
    first = n_values[0]
    scored = features.filter(pl.col(f"coherence_{first}").is_not_nan())
    scores = {"n_features_scored": float(scored.height)}
    for n in n_values:
        for top in TOP_MEANS:
            for name, letter in (
                ("monosemanticity", "m"),
                ("coherence", "c"),
                ("specificity", "s"),
            ):
                scores[f"{letter}{n}_top{top}_mean"] = _top_mean(scored[f"{name}_{n}"], top)
    above = (scored[f"coherence_{first}"] - null[first]).clip(lower_bound=0)
    scores[f"n_features_above_null_{first}"] = float((above > 0).sum())
    scores[f"coherence_score_{first}"] = float(above.mean()) if scored.height else np.nan
    scores[f"specificity_score_{first}"] = (
        float(scored[f"specificity_{first}"].mean()) if scored.height else np.nan
    )
    if len(n_values) > 1:
        last = n_values[-1]
        both = scored.filter(
            pl.col(f"monosemanticity_{last}").is_not_nan()
            & (pl.col(f"monosemanticity_{first}") > 0)
        )
        ratio = both[f"monosemanticity_{last}"] / both[f"monosemanticity_{first}"]
        scores[f"breadth_score_{last}_{first}"] = float(ratio.mean()) if both.height else np.nan
    return pl.DataFrame(
        {"statistic": list(scores), "value": list(scores.values())},
        schema={"statistic": pl.Utf8, "value": pl.Float64},
    )


def run_monosemanticity(
    index: pl.DataFrame, store: CodeStore, settings: MonosemanticitySettings
) -> MonosemanticityResult:
    n_values = tuple(sorted(settings.n_values))
    stats, top = stream_features(index, store, settings.splits, max(n_values), settings.chunk_rows)
    always_active = stats.filter(pl.col("always_active"))["feature"]
    top = top.filter(~pl.col("feature").is_in(always_active.implode()))
    enough = top.group_by("feature").len().filter(pl.col("len") >= n_values[0])["feature"]
    top = top.filter(pl.col("feature").is_in(enough.implode()))
    columns = structure_columns(index)
    if not columns:
        raise ValueError("the slice index has no structure_ columns to score monosemanticity")
    presence = index.select(columns).to_numpy().astype(bool)
    in_splits = np.isin(index["split"].to_numpy(), settings.splits)
    null = null_baseline(presence[in_splits], n_values, settings.null_draws, settings.seed)
    null_of = dict(null.select("n", "null_mean").iter_rows())
    features = score_features(top, presence, null_of, n_values)
    features = features.join(stats.select("feature", "n_fires"), on="feature", how="left")
    logger.info(
        "%d features scored (%d always active, %d with fewer than %d scans)",
        features.height,
        always_active.len(),
        int((~stats["dead"]).sum()) - always_active.len() - features.height,
        n_values[0],
    )
    split_of_row = index["split"].to_numpy()
    selection_rows = np.flatnonzero(np.isin(split_of_row, settings.detection_selection_splits))
    heldout_rows = np.flatnonzero(split_of_row == settings.detection_heldout_split)
    detection_rows = np.union1d(selection_rows, heldout_rows)
    planes = (index["modality"] + " " + index["orientation"]).to_numpy()
    detection = structure_detection(
        store.read_rows(detection_rows),
        presence[detection_rows],
        columns,
        np.searchsorted(detection_rows, selection_rows),
        np.searchsorted(detection_rows, heldout_rows),
        settings.detection_auroc,
        strata=planes[detection_rows],
    ).with_columns(
        selected_on=pl.lit("+".join(settings.detection_selection_splits)),
        scored_on=pl.lit(settings.detection_heldout_split),
    )
    return MonosemanticityResult(
        features=features,
        null=null,
        scores=config_scores(features, null_of, n_values),
        detection=detection,
    )
