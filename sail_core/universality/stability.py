"""Seed stability: does a feature come back when the same SAE is trained with another seed?

Every seed run is matched to the main run one-to-one (Hungarian) on the sum of decoder-direction
cosine and activation correlation on the same slices. A feature has a twin in a seed run when
its matched feature reaches both thresholds; it is stable when it has a twin in every seed run.
Its stability score is `metrics.twin_stability` over the seed runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from sail_core.metrics import cosine_matrix, twin_stability
from sail_core.universality.matching import (
    activation_correlation,
    active_features,
    feature_levels,
    one_to_one,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TwinThresholds:
    min_cosine: float
    min_correlation: float

    def __post_init__(self) -> None:
        for name in ("min_cosine", "min_correlation"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [-1, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class SaeRun:
    """What matching needs of one trained SAE: decoder rows (n, d) and codes on the slices."""

    decoder: np.ndarray
    codes: sp.csr_matrix


def match_seed_run(main: SaeRun, other: SaeRun, seed: int, chunk_rows: int) -> pl.DataFrame:
    """Per main feature: its twin in `other`, their decoder cosine and activation correlation."""
    if main.codes.shape[0] != other.codes.shape[0]:
        raise ValueError(
            f"seed {seed}: codes of {other.codes.shape[0]} rows, main run has {main.codes.shape[0]}"
        )
    cosine = cosine_matrix(main.decoder, other.decoder)
    correlation = activation_correlation(main.codes, other.codes, chunk_rows)
    rows, cols = one_to_one(cosine + correlation)
    twin = np.full(main.decoder.shape[0], -1, dtype=np.int64)
    twin[rows] = cols
    matched = twin >= 0
    logger.info("seed %d: matched %d of %d features", seed, matched.sum(), twin.size)
    return pl.DataFrame(
        {
            "feature": np.arange(twin.size, dtype=np.int64),
            "seed": np.full(twin.size, seed, dtype=np.int64),
            "twin": twin,
            "cosine": np.where(matched, cosine[np.arange(twin.size), twin], 0.0),
            "correlation": np.where(matched, correlation[np.arange(twin.size), twin], 0.0),
        }
    )


def stability_table(
    twins: pl.DataFrame, widths: list[int], active: np.ndarray, thresholds: TwinThresholds
) -> pl.DataFrame:
    """Per feature: Matryoshka level, activity, stability score, seeds with a twin, stable."""
    seeds = sorted(twins["seed"].unique().to_list())
    if not seeds:
        raise ValueError("stability needs at least one seed run")
    wide = {
        name: twins.pivot(on="seed", index="feature", values=name).sort("feature")
        for name in ("cosine", "correlation")
    }
    cosines = wide["cosine"].select(str(s) for s in seeds).to_numpy()
    correlations = wide["correlation"].select(str(s) for s in seeds).to_numpy()
    has_twin = (cosines >= thresholds.min_cosine) & (correlations >= thresholds.min_correlation)
    return pl.DataFrame(
        {
            "feature": wide["cosine"]["feature"],
            "level": feature_levels(widths),
            "active": active,
            "stability": twin_stability(cosines, correlations),
            "seeds_with_twin": has_twin.sum(axis=1).astype(np.int64),
            "stable": has_twin.all(axis=1),
        }
    )


def stability_summary(table: pl.DataFrame, labelled: list[int], widths: list[int]) -> pl.DataFrame:
    """Fraction stable and mean score per feature group (all, active, labelled) and level."""
    table = table.with_columns(labelled=pl.col("feature").is_in(list(labelled)))
    groups = {"all": pl.lit(True), "active": pl.col("active"), "labelled": pl.col("labelled")}
    parts = []
    for group, keep in groups.items():
        chosen = table.filter(keep)
        for level_name, level_rows in [("all", chosen)] + [
            (f"{level}:D{widths[level]}", chosen.filter(pl.col("level") == level))
            for level in range(len(widths))
        ]:
            parts.append(
                {
                    "features": group,
                    "level": level_name,
                    "n_features": level_rows.height,
                    "fraction_stable": level_rows["stable"].mean() if level_rows.height else None,
                    "mean_stability": level_rows["stability"].mean() if level_rows.height else None,
                }
            )
    return pl.DataFrame(parts)


def seed_stability(
    main: SaeRun,
    seed_runs: dict[int, SaeRun],
    widths: list[int],
    thresholds: TwinThresholds,
    chunk_rows: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(twins: one row per feature and seed run, features: one row per feature)."""
    if not seed_runs:
        raise ValueError("stability needs at least one seed run")
    twins = pl.concat(
        [match_seed_run(main, run, seed, chunk_rows) for seed, run in sorted(seed_runs.items())]
    )
    features = stability_table(twins, widths, active_features(main.codes), thresholds)
    return twins, features
