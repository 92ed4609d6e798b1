import json
import logging

import polars as pl

from sail_core.data.index import read_index
from sail_core.io import write_json, write_parquet
from sail_core.label.run import footer_metadata
from sail_core.logs import configure
from sail_core.operational_settings import with_operational
from sail_core.retrieval.queries import query_from_config
from sail_core.retrieval.run import (
    RetrievalSettings,
    candidates_from,
    make_matcher,
    run_queries,
)
from sail_core.sae.codes import CodeStore
from sail_core.workflow_config import load_table

configure(snakemake.log[0])
log = logging.getLogger("language_retrieval")

params = snakemake.params
retrieval = with_operational(params.retrieval, snakemake.config, "retrieval")
anthropic = with_operational(params.anthropic, snakemake.config, "labelling.anthropic")
index, index_hash = read_index(snakemake.input.index)
labels = pl.read_parquet(snakemake.input.labels)
evaluation = pl.read_parquet(snakemake.input.evaluation) if snakemake.input.evaluation else None
settings = RetrievalSettings(
    split=retrieval["split"],
    k=retrieval["k"],
    scorings=tuple(retrieval["scorings"]),
    chunk_rows=retrieval["chunk_rows"],
)
out = run_queries(
    [
        query_from_config(q)
        for q in load_table(snakemake.input.queries, snakemake.input.queries_schema)
    ],
    make_matcher(retrieval["matcher"], retrieval, anthropic, params.cache_dir),
    candidates_from(labels, evaluation),
    labels,
    index,
    CodeStore(snakemake.input.codes, index_hash),
    settings,
)
provenance = {
    "encoder": snakemake.wildcards.encoder,
    "sae": snakemake.wildcards.sae,
    "labeller": snakemake.wildcards.labeller,
    "index_hash": index_hash,
    "retrieval": retrieval,
}
metadata = footer_metadata(provenance)
write_parquet(out.matches, snakemake.output.matches, metadata=metadata)
write_parquet(out.results, snakemake.output.results, metadata=metadata)
write_parquet(out.precision, snakemake.output.precision, metadata=metadata)
write_json(snakemake.output.summary, out.summary | {"provenance": provenance})
log.info("mean precision@%d: %s", settings.k, json.dumps(out.summary["mean_precision_at_k"]))
