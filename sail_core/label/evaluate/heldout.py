"""Held-out slices for judging labels: top activations (one per scan) and negatives.

Negatives are slices on which the feature is inactive: random ones from the whole held-out
split, and hard ones of the same modality that contain the region most common among the
positives, so that a label naming only modality or coarse anatomy cannot separate them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.data.anatomy import REGION_OF
from sail_core.label.evidence import SampleMeta


def region_presence(index: pl.DataFrame, region: str) -> np.ndarray:
    columns = [
        c for c in index.columns if c.startswith(STRUCTURE_PREFIX)
        and REGION_OF.get(c[len(STRUCTURE_PREFIX) :]) == region
    ]  # fmt: skip
    if not columns:
        return np.zeros(index.height, dtype=bool)
    return index.select(pl.any_horizontal(columns)).to_series().to_numpy()


def one_per_scan_sample(
    candidates: np.ndarray, scans: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Up to n candidate rows drawn at random, distinct scans first."""
    shuffled = rng.permutation(candidates)
    _, first = np.unique(scans[shuffled], return_index=True)
    distinct = shuffled[np.sort(first)]
    if distinct.size >= n:
        return distinct[:n]
    rest = np.setdiff1d(shuffled, distinct, assume_unique=True)
    return np.concatenate([distinct, rng.permutation(rest)[: n - distinct.size]])


@dataclass(frozen=True)
class Negatives:
    random: np.ndarray
    hard: np.ndarray


def hard_negative_target(samples: list[SampleMeta]) -> tuple[str, str | None]:
    """The modality and the region most common among the positive samples."""
    modality = Counter(s.modality for s in samples).most_common(1)[0][0]
    regions = Counter(r for s in samples for r in s.region_names)
    ranked = sorted(regions.items(), key=lambda item: (-item[1], item[0]))
    return modality, ranked[0][0] if ranked else None


def sample_negatives(
    active_rows: np.ndarray,
    heldout_rows: np.ndarray,
    index: pl.DataFrame,
    scans: np.ndarray,
    target: tuple[str, str | None],
    counts: tuple[int, int],
    rng: np.random.Generator,
) -> Negatives:
    """Random and hard negatives (`counts`) among held-out rows where the feature is inactive.

    Hard negatives share the `target` modality and region of the positives.
    """
    n_random, n_hard = counts
    modality, region = target
    inactive = np.setdiff1d(heldout_rows, active_rows)
    random = one_per_scan_sample(inactive, scans, n_random, rng)
    same = inactive[index["modality"].to_numpy()[inactive] == modality]
    if region is not None:
        same = same[region_presence(index, region)[same]]
    hard = one_per_scan_sample(np.setdiff1d(same, random), scans, n_hard, rng)
    return Negatives(random, hard)
