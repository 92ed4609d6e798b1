"""Tolerant reading of pipeline outputs: a missing or unreadable file becomes a `Missing` with
the reason, which the page shows instead of the section, so one absent piece never stops the
report."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Missing:
    reason: str


def _absent(path: Path) -> Missing | None:
    if not path.exists():
        logger.warning("%s does not exist", path)
        return Missing(f"{path} does not exist")
    return None


def _unreadable(path: Path, error: Exception) -> Missing:
    logger.warning("%s cannot be read: %s", path, error)
    return Missing(f"{path} cannot be read ({type(error).__name__}: {error})")


def load_json(path: str | Path) -> dict | Missing:
    path = Path(path)
    if absent := _absent(path):
        return absent
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return _unreadable(path, error)
    if not isinstance(value, dict):
        return Missing(f"{path} holds a JSON {type(value).__name__}, not an object")
    return value


def load_table(
    path: str | Path, columns: tuple[str, ...] = (), *, only_these: bool = False
) -> pl.DataFrame | Missing:
    """A parquet (or tab-separated .tsv) table that has at least `columns`; with `only_these`,
    only those columns of a parquet file are read."""
    path = Path(path)
    if absent := _absent(path):
        return absent
    try:
        if path.suffix == ".tsv":
            names = pl.read_csv(path, separator="\t", n_rows=0).columns
        else:
            names = list(pl.read_parquet_schema(path))
        lacking = [c for c in columns if c not in names]
        if lacking:
            return Missing(f"{path} lacks column(s) {', '.join(lacking)}")
        if path.suffix == ".tsv":
            return pl.read_csv(path, separator="\t")
        return pl.read_parquet(path, columns=list(columns) if only_these else None)
    except (OSError, pl.exceptions.PolarsError) as error:
        return _unreadable(path, error)


def load_png(path: str | Path) -> bytes | Missing:
    path = Path(path)
    if absent := _absent(path):
        return absent
    try:
        return path.read_bytes()
    except OSError as error:
        return _unreadable(path, error)


def nested(tree: object, *keys: str) -> object:
    """tree[k1][k2]...; None where a level is absent or not a mapping."""
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree
