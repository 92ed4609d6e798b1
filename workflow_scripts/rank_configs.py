import logging

import polars as pl

from sail_core.evaluate.ranking import build_ranking
from sail_core.io import write_parquet
from sail_core.logs import configure

configure(snakemake.log[0])
log = logging.getLogger("rank_configs")
params = snakemake.params
saes = list(params.saes)


def by_sae(paths):
    return {sae: pl.read_parquet(path) for sae, path in zip(saes, paths, strict=True)}


ranking = build_ranking(
    snakemake.wildcards.encoder,
    mono_scores=by_sae(snakemake.input.scores),
    thresholds=by_sae(snakemake.input.thresholds),
    summaries=by_sae(snakemake.input.summaries),
    mono_statistic=params.mono_statistic,
    perf_statistic=params.perf_statistic,
    min_dense_auc=params.min_dense_auc,
    report_split=params.report_split,
    largest_n=max(params.n_values),
    named=list(params.selected),
)
write_parquet(
    ranking,
    snakemake.output.ranking,
    {
        "mono_statistic": params.mono_statistic,
        "perf_statistic": params.perf_statistic,
        "min_dense_auc": str(params.min_dense_auc),
        "report_split": params.report_split,
        "selected_by": "config" if params.selected else "final_rank",
    },
)
log.info("ranking of %s:\n%s", snakemake.wildcards.encoder, ranking)
