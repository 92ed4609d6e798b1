"""Scan-level train/val/test split: held-out institutes as test, the rest stratified."""

from __future__ import annotations

import numpy as np
import polars as pl

from sail_core.columns import MODALITIES, SCAN_KEY

STRATA = ("modality", "gender", "age_bin")


def make_split(
    scans: pl.DataFrame,
    *,
    test_institutes: list[str],
    train_fraction: float,
    seed: int,
    strata: tuple[str, ...] = STRATA,
) -> pl.DataFrame:
    """Assign every scan to train, val or test.

    Test = scans from `test_institutes`. The others are ordered by stratum (a missing value makes
    its own "unknown" stratum) and, within a stratum, by a seeded shuffle; walking that order, a
    scan goes to val whenever the running count of val scans falls behind (1 - train_fraction)
    of the scans seen. Every stratum is thereby split in proportion, and the total is exact to
    within one scan.
    """
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    if scans.select(SCAN_KEY).is_duplicated().any():
        raise ValueError("the scan table has duplicated (modality, image_id) keys")
    rng = np.random.default_rng(seed)
    columns = list(dict.fromkeys([*SCAN_KEY, "institute", *strata]))
    keyed = scans.select(columns).with_columns(
        pl.concat_str(
            [pl.col(c).cast(pl.Utf8).fill_null("unknown") for c in strata], separator="-"
        ).alias("stratum"),
        pl.col("institute").is_in(test_institutes).fill_null(False).alias("is_test"),
    )
    pool = keyed.filter(~pl.col("is_test")).sort(SCAN_KEY)
    pool = pool.with_columns(pl.Series("shuffle", rng.permutation(pool.height))).sort(
        "stratum", "shuffle"
    )
    val_fraction = 1.0 - train_fraction
    assigned = []
    for position in range(pool.height):
        previous_val = np.floor(position * val_fraction + 0.5)
        assigned.append(
            "val" if np.floor((position + 1) * val_fraction + 0.5) > previous_val else "train"
        )
    pool = pool.with_columns(pl.Series("split", assigned))
    test = keyed.filter(pl.col("is_test")).with_columns(pl.lit("test").alias("split"))
    result = pl.concat([pool.select(*SCAN_KEY, "split"), test.select(*SCAN_KEY, "split")]).sort(
        SCAN_KEY
    )
    check_split(result, scans, test_institutes)
    return result


def check_split(split: pl.DataFrame, scans: pl.DataFrame, test_institutes: list[str]) -> None:
    """Every scan in exactly one split; test holds exactly the held-out institutes."""
    if split.select(SCAN_KEY).is_duplicated().any():
        raise AssertionError("a scan was assigned to more than one split")
    joined = split.join(scans.select(*SCAN_KEY, "institute"), on=list(SCAN_KEY), how="left")
    in_test_institute = joined["institute"].is_in(test_institutes).fill_null(False)
    if not (in_test_institute == (joined["split"] == "test")).all():
        raise AssertionError("test split does not equal the held-out institutes")
    if split.height != scans.height:
        raise AssertionError("split and scan table differ in size")


def split_summary(index_or_slices: pl.DataFrame, split: pl.DataFrame) -> pl.DataFrame:
    """Per split: scans, slices, and scans per modality of the dataset (a CT-only dataset has
    no MRI column)."""
    slices = index_or_slices.group_by(SCAN_KEY).len("slices")
    per_scan = split.join(slices, on=list(SCAN_KEY), how="left").with_columns(
        pl.col("slices").fill_null(0)
    )
    present = [m for m in MODALITIES if m in set(split["modality"])]
    return (
        per_scan.group_by("split")
        .agg(
            pl.len().alias("scans"),
            pl.col("slices").sum(),
            *[(pl.col("modality") == m).sum().alias(f"{m}_scans") for m in present],
        )
        .sort("split")
    )
