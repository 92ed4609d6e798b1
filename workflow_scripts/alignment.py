import logging

import polars as pl

from sail_core.data.index import read_index
from sail_core.io import write_json, write_parquet
from sail_core.logs import configure
from sail_core.mine.rows import scan_codes
from sail_core.universality.alignment import NullSettings, align_features
from sail_core.universality.concepts import shared_concepts, unique_features
from sail_core.universality.matching import check_same_slices, read_split_codes, split_row_ids

configure(snakemake.log[0])
log = logging.getLogger("alignment")
w, params, inputs = snakemake.wildcards, snakemake.params, snakemake.input
pair = {"encoder_a": w.encoder_a, "sae_a": w.sae_a, "encoder_b": w.encoder_b, "sae_b": w.sae_b}

check_same_slices(inputs.codes_a, inputs.codes_b)
index, digest = read_index(inputs.index)
rows = split_row_ids(index, list(params.splits))
scans, _ = scan_codes(index)
codes_a = read_split_codes(inputs.codes_a, rows, digest, params.chunk_rows)
codes_b = read_split_codes(inputs.codes_b, rows, digest, params.chunk_rows)
log.info("aligning %s on %d %s rows", pair, rows.size, "+".join(params.splits))

settings = NullSettings(params.null_permutations, params.null_quantile, params.seed)
features, summary = align_features(codes_a, codes_b, scans[rows], settings, params.chunk_rows)
labels_a, labels_b = pl.read_parquet(inputs.labels_a), pl.read_parquet(inputs.labels_b)
shared = shared_concepts(features, labels_a, labels_b)
unique = pl.concat(
    [
        unique_features(
            features, side, labels, pl.read_parquet(enrichment), params.top_structures
        ).select(pl.lit(encoder).alias("encoder"), pl.all())
        for side, encoder, labels, enrichment in (
            ("a", w.encoder_a, labels_a, inputs.enrichment_a),
            ("b", w.encoder_b, labels_b, inputs.enrichment_b),
        )
    ]
)
metadata = {**pair, "splits": ",".join(params.splits), "threshold": str(summary["threshold"])}
write_parquet(features, snakemake.output.features, metadata)
write_parquet(shared, snakemake.output.shared, metadata)
write_parquet(unique, snakemake.output.unique, metadata)
write_json(snakemake.output.summary, {**pair, "splits": list(params.splits), **summary})
