"""One streaming pass over a code store: statistics, top slices, diverse samples, enrichment."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from sail_core.mine.diverse import diverse_samples
from sail_core.mine.enrichment import enrichment
from sail_core.mine.rows import scan_codes, split_codes
from sail_core.mine.stats import FeatureStats
from sail_core.mine.top_slices import TopPerScan
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

SLICE_COLUMNS = ("modality", "image_id", "orientation", "index", "array_pos", "split")


@dataclass(frozen=True)
class MiningSettings:
    splits: list[str]
    n_top: int
    diverse_pool: int
    n_diverse: int
    min_count: int
    chunk_rows: int


@dataclass(frozen=True)
class MiningResult:
    stats: pl.DataFrame
    top_slices: pl.DataFrame
    enrichment: pl.DataFrame


def stream_features(
    index: pl.DataFrame, store: CodeStore, splits: list[str], n_top: int, chunk_rows: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Feature statistics and the top `n_top` slices per feature (one per scan) over the rows of
    `splits`, reading `chunk_rows` rows of codes at a time."""
    if store.n_rows != index.height:
        raise ValueError(
            f"{store.path}: {store.n_rows} rows of codes for {index.height} index rows"
        )
    scans, scan_names = scan_codes(index)
    splits_of_rows = split_codes(index, splits)
    keep = splits_of_rows >= 0
    row_ids = index["row_id"].to_numpy()
    stats = FeatureStats(store.n_latents, splits, len(scan_names))
    top = TopPerScan(n_top)
    for start, chunk in store.iter_chunks(chunk_rows):
        rows = slice(start, start + chunk.shape[0])
        stats.update(chunk, splits_of_rows[rows], scans[rows], keep[rows])
        top.update(chunk, row_ids[rows], scans[rows], keep[rows])
        logger.debug("rows %d..%d mined", rows.start, rows.stop - 1)
    return stats.result(), top.result()


def mine_features(index: pl.DataFrame, store: CodeStore, settings: MiningSettings) -> MiningResult:
    pool_size = max(settings.n_top, settings.diverse_pool)
    stats, pool = stream_features(index, store, settings.splits, pool_size, settings.chunk_rows)
    logger.info(
        "%d of %d features fire on the %s rows",
        int((~stats["dead"]).sum()),
        store.n_latents,
        "+".join(settings.splits),
    )
    candidates = pool.filter(pl.col("rank") < settings.diverse_pool)
    candidates = diverse_samples(
        candidates, store.read_rows(candidates["row_id"].to_numpy()), settings.n_diverse
    )
    top_slices = (
        pool.join(
            candidates.select("feature", "rank", "diverse_order"),
            on=["feature", "rank"],
            how="left",
        )
        .with_columns((pl.col("rank") < settings.n_top).alias("in_top"))
        .join(index.select("row_id", *SLICE_COLUMNS), on="row_id", how="left")
        .sort("feature", "rank")
    )
    base = np.isin(index["split"].to_numpy(), settings.splits)
    enriched = enrichment(top_slices.filter(pl.col("in_top")), index, base, settings.min_count)
    return MiningResult(stats=stats, top_slices=top_slices, enrichment=enriched)
