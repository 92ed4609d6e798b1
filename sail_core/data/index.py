"""The global slice index: every stored slice in row-id order, with its split."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sail_core.columns import REGION_PREFIX, SCAN_KEY, SLICE_KEY, STRUCTURE_PREFIX, index_hash
from sail_core.io import read_parquet_metadata, write_parquet

INDEX_HASH_KEY = "index_hash"


def build_index(slice_tables: list[pl.DataFrame], split: pl.DataFrame) -> pl.DataFrame:
    """Concatenate per-scan tables, fill absent structure columns with False, join the split."""
    tables = [t for t in slice_tables if t.height]
    if not tables:
        raise ValueError("no scan produced any slice: the index would be empty")
    index = pl.concat(tables, how="diagonal_relaxed")
    presence = [c for c in index.columns if c.startswith((STRUCTURE_PREFIX, REGION_PREFIX))]
    index = index.with_columns(pl.col(presence).fill_null(False)).sort(list(SLICE_KEY))
    index = index.join(split, on=list(SCAN_KEY), how="left")
    unsplit = index.filter(pl.col("split").is_null()).select(SCAN_KEY).unique()
    if unsplit.height:
        names = ", ".join(f"{m}/{i}" for m, i in unsplit.sort(SCAN_KEY).iter_rows())
        raise ValueError(f"scans with slices but no split: {names}")
    index = index.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))
    keys = ["row_id", *SLICE_KEY]
    meta = sorted(
        c
        for c in index.columns
        if c not in keys and not c.startswith((STRUCTURE_PREFIX, REGION_PREFIX))
    )
    return index.select(keys + meta + sorted(presence))


def write_index(index: pl.DataFrame, path: str | Path) -> str:
    digest = index_hash(index)
    write_parquet(index, path, metadata={INDEX_HASH_KEY: digest})
    return digest


def read_index(path: str | Path) -> tuple[pl.DataFrame, str]:
    """The index table and its content hash (checked against the stored one)."""
    df = pl.read_parquet(path)
    stored = read_parquet_metadata(path).get(INDEX_HASH_KEY)
    actual = index_hash(df)
    if stored != actual:
        raise ValueError(f"{path}: index hash {actual} does not match the stored {stored}")
    return df, actual
