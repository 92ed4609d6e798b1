import json
import logging
from dataclasses import asdict

import polars as pl

from sail_core.data.index import read_index
from sail_core.data.store import SliceReader
from sail_core.io import atomic_output, write_parquet
from sail_core.layout import Layout
from sail_core.logs import configure
from sail_core.mine.mining import MiningSettings, mine_features
from sail_core.mine.panels import write_panels
from sail_core.sae.codes import CodeStore

configure(snakemake.log[0])
log = logging.getLogger("mine_features")
params = snakemake.params

index, digest = read_index(snakemake.input.index)
store = CodeStore(snakemake.input.codes, index_hash=digest)
settings = MiningSettings(
    splits=list(params.splits),
    n_top=params.n_top,
    diverse_pool=params.diverse_pool,
    n_diverse=params.n_diverse,
    min_count=params.enrichment_min_count,
    chunk_rows=snakemake.config["mining"]["chunk_rows"],
)
result = mine_features(index, store, settings)
footer = {"index_hash": digest, "settings": json.dumps(asdict(settings))}
write_parquet(result.stats, snakemake.output.stats, footer)
write_parquet(result.top_slices, snakemake.output.top_slices, footer)
write_parquet(result.enrichment, snakemake.output.enrichment, footer)

with atomic_output(snakemake.output.panels) as panels_dir:
    panels_dir.mkdir()
    written = write_panels(
        result.top_slices.filter(pl.col("in_top")),
        index,
        SliceReader(Layout.of_index(snakemake.input.index).slices),
        panels_dir,
        params.panel_tile_px,
        params.panel_columns,
    )
log.info(
    "%s/%s: %d features with top slices, %d enrichment rows, %d panels",
    snakemake.wildcards.encoder,
    snakemake.wildcards.sae,
    result.top_slices["feature"].n_unique(),
    result.enrichment.height,
    written,
)
