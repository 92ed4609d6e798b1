"""Scans grouped into shards, one embedding job per (encoder, shard).

Shards are consecutive blocks of scans in (modality, image_id) order, which is the row order of
the slice index, so the rows of a shard form one contiguous row-id range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import polars as pl

from sail_core.columns import SCAN_KEY, parse_scan_id


def assign_shards(scan_ids: Iterable[str], shard_size: int) -> list[list[str]]:
    """Scan ids ("ct/s0001") in index order, cut into blocks of `shard_size` scans."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    ordered = sorted(scan_ids, key=parse_scan_id)
    duplicated = sorted(s for s, n in Counter(ordered).items() if n > 1)
    if duplicated:
        raise ValueError(f"duplicated scan id(s): {', '.join(duplicated)}")
    return [ordered[start : start + shard_size] for start in range(0, len(ordered), shard_size)]


def shard_rows(index: pl.DataFrame, scan_ids: list[str], shard: int) -> pl.DataFrame:
    """The index rows of the shard's scans, in row-id order, checked to be one contiguous range."""
    keys = pl.DataFrame(
        [parse_scan_id(s) for s in scan_ids],
        schema={column: index.schema[column] for column in SCAN_KEY},
        orient="row",
    )
    rows = index.join(keys, on=list(SCAN_KEY), how="semi").sort("row_id")
    row_ids = rows["row_id"].to_numpy()
    if len(row_ids) and not np.array_equal(
        row_ids, np.arange(row_ids[0], row_ids[0] + len(row_ids))
    ):
        raise ValueError(
            f"shard {shard}: the rows of scans {', '.join(scan_ids)} are not one contiguous "
            "row-id range of the index (shards must be consecutive scans in index order)"
        )
    return rows
