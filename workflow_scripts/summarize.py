import logging

import polars as pl

from sail_core.evaluate.summary import build_summary, headline_line
from sail_core.io import read_json, write_json
from sail_core.logs import configure

configure(snakemake.log[0])
log = logging.getLogger("summarize")
params = snakemake.params

summary = build_summary(
    snakemake.wildcards.encoder,
    snakemake.wildcards.sae,
    sae_metrics=read_json(snakemake.input.sae_metrics),
    recovery_summary=pl.read_parquet(snakemake.input.recovery),
    mono_scores=pl.read_parquet(snakemake.input.monosemanticity),
    fingerprint_summary=pl.read_parquet(snakemake.input.fingerprint),
    detection=pl.read_parquet(snakemake.input.detection),
    ranking=pl.read_parquet(snakemake.input.ranking),
    common_prevalence=params.common_prevalence,
    recovery_n=params.recovery_n,
    fingerprint_k=params.fingerprint_k,
    report_split=params.report_split,
    keys_selecting_on_test=tuple(params.keys_selecting_on_test),
)
write_json(snakemake.output.summary, summary)
log.info("headline: %s", headline_line(summary, params.report_split))
