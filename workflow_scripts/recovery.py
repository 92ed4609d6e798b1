import json
import logging
from dataclasses import asdict
from pathlib import Path

from sail_core.data.index import read_index
from sail_core.embed.store import load_embeddings
from sail_core.evaluate.linear import FitSettings
from sail_core.evaluate.recovery import RecoverySettings, run_recovery
from sail_core.io import write_parquet
from sail_core.logs import configure
from sail_core.sae.codes import CodeStore
from sail_core.workflow_config import load_table

configure(snakemake.log[0])
log = logging.getLogger("recovery")
params = snakemake.params

index, digest = read_index(snakemake.input.index)
store = CodeStore(snakemake.input.codes, index_hash=digest)
fit_settings = FitSettings(
    c_grid=tuple(params.c_grid),
    default_c=params.default_c,
    penalties=dict(params.penalty),
    max_iter=params.max_iter,
    seed=params.seed,
)
settings = RecoverySettings(
    n_values=tuple(params.n_values),
    fractions=tuple(params.fractions),
    min_dense_auc=params.min_dense_auc,
    report_split=params.report_split,
    methods=tuple(params.methods),
)
result = run_recovery(
    index,
    store,
    lambda rows: load_embeddings(snakemake.input.embeddings, rows, digest),
    Path(snakemake.input.probes),
    load_table(snakemake.input.targets, snakemake.input.targets_schema),
    fit_settings,
    params.dense_l2_normalise,
    settings,
)
footer = {
    "index_hash": digest,
    "seed": str(params.seed),
    "settings": json.dumps(asdict(settings)),
    "fit_settings": json.dumps(asdict(fit_settings)),
}
write_parquet(result.curves, snakemake.output.curves, footer)
write_parquet(result.thresholds, snakemake.output.thresholds, footer)
write_parquet(result.summary, snakemake.output.summary, footer)
reported = result.summary.filter(result.summary["split"] == params.report_split)
log.info("recovery on %s:\n%s", params.report_split, reported)
