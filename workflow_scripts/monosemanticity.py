import json
import logging
from dataclasses import asdict

from sail_core.data.index import read_index
from sail_core.evaluate.monosemanticity import MonosemanticitySettings, run_monosemanticity
from sail_core.io import write_parquet
from sail_core.logs import configure
from sail_core.sae.codes import CodeStore

configure(snakemake.log[0])
log = logging.getLogger("monosemanticity")
params = snakemake.params

index, digest = read_index(snakemake.input.index)
store = CodeStore(snakemake.input.codes, index_hash=digest)
settings = MonosemanticitySettings(
    splits=list(params.splits),
    n_values=tuple(params.n_values),
    null_draws=params.null_draws,
    detection_auroc=params.detection_auroc,
    chunk_rows=snakemake.config["mining"]["chunk_rows"],
    seed=params.seed,
)
result = run_monosemanticity(index, store, settings)
footer = {"index_hash": digest, "seed": str(params.seed), "settings": json.dumps(asdict(settings))}
write_parquet(result.features, snakemake.output.features, footer)
write_parquet(result.null, snakemake.output.null, footer)
write_parquet(result.scores, snakemake.output.scores, footer)
write_parquet(result.detection, snakemake.output.detection, footer)
log.info("configuration scores:\n%s", result.scores)
log.info("best single-feature detection per structure:\n%s", result.detection)
