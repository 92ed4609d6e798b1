import json
import logging
from dataclasses import asdict

from sail_core.data.index import read_index
from sail_core.embed.store import load_embeddings
from sail_core.evaluate.fingerprint import FingerprintSettings, run_fingerprint
from sail_core.io import write_parquet
from sail_core.logs import configure
from sail_core.sae.codes import CodeStore

configure(snakemake.log[0])
log = logging.getLogger("fingerprint")
params = snakemake.params

index, digest = read_index(snakemake.input.index)
store = CodeStore(snakemake.input.codes, index_hash=digest)
settings = FingerprintSettings(
    splits=list(params.splits),
    n_references=params.n_references,
    k_values=tuple(params.k_values),
    n_retrieved=params.n_retrieved,
    report_k=params.report_k,
    seed=params.seed,
)
result = run_fingerprint(
    index,
    store,
    lambda rows: load_embeddings(snakemake.input.embeddings, rows, digest),
    settings,
)
footer = {"index_hash": digest, "seed": str(params.seed), "settings": json.dumps(asdict(settings))}
write_parquet(result.per_reference, snakemake.output.per_reference, footer)
write_parquet(result.summary, snakemake.output.summary, footer)
write_parquet(result.retrieved, snakemake.output.retrieved, footer)
log.info("fingerprint retrieval summary:\n%s", result.summary)
