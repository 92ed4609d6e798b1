import logging

import polars as pl

from sail_core.data.index import read_index
from sail_core.data.store import SliceReader
from sail_core.io import write_json, write_parquet
from sail_core.label.evaluate.run import EvaluationSettings, evaluate_labels
from sail_core.label.run import footer_metadata, make_judge
from sail_core.layout import Layout
from sail_core.logs import configure
from sail_core.operational_settings import with_operational
from sail_core.sae.codes import CodeStore

configure(snakemake.log[0])
log = logging.getLogger("evaluate_labels")

params = snakemake.params
evaluation = with_operational(params.evaluation, snakemake.config, "labelling.evaluation")
anthropic = with_operational(params.anthropic, snakemake.config, "labelling.anthropic")
judge_sees_metadata = evaluation.pop("judge_sees_metadata")
index, index_hash = read_index(snakemake.input.index)
settings = EvaluationSettings(seed=params.seed, image_size=params.image_size, **evaluation)
judge = make_judge(snakemake.wildcards.labeller, anthropic, judge_sees_metadata, params.cache_dir)
table, summary = evaluate_labels(
    pl.read_parquet(snakemake.input.labels),
    index,
    CodeStore(snakemake.input.codes, index_hash),
    judge,
    SliceReader(Layout.of_index(snakemake.input.index).slices).read,
    settings,
)
provenance = {
    "encoder": snakemake.wildcards.encoder,
    "sae": snakemake.wildcards.sae,
    "labeller": snakemake.wildcards.labeller,
    "seed": params.seed,
    "index_hash": index_hash,
    "evaluation": params.evaluation,
}
write_parquet(table, snakemake.output.table, metadata=footer_metadata(provenance))
write_json(
    snakemake.output.summary,
    {"judge": judge.summary(table.height), "results": summary, "provenance": provenance},
)
log.info("contrastive success rate %s", summary["all"]["contrastive"].get("success_rate"))
