import json
import logging
from dataclasses import asdict

from sail_core.data.index import read_index
from sail_core.embed.store import load_embeddings
from sail_core.evaluate.linear import FitSettings
from sail_core.evaluate.probes import ProbeSettings, run_probes
from sail_core.io import atomic_output
from sail_core.logs import configure
from sail_core.sae.codes import CodeStore
from sail_core.workflow_config import load_table

configure(snakemake.log[0])
log = logging.getLogger("probe")
params = snakemake.params

index, digest = read_index(snakemake.input.index)
store = CodeStore(snakemake.input.codes, index_hash=digest)
settings = ProbeSettings(
    fit=FitSettings(
        c_grid=tuple(params.c_grid),
        default_c=params.default_c,
        penalties=dict(params.penalty),
        max_iter=params.max_iter,
        seed=params.seed,
    ),
    max_train_rows=params.max_train_rows,
    min_class_rows=params.min_class_rows,
    n_top_coefficients=params.n_top_coefficients,
    dense_l2_normalise=params.dense_l2_normalise,
)
log.info("probe settings %s", json.dumps(asdict(settings)))
with atomic_output(snakemake.output.probes) as probe_dir:
    probe_dir.mkdir()
    status = run_probes(
        index,
        store,
        lambda rows: load_embeddings(snakemake.input.embeddings, rows, digest),
        load_table(snakemake.input.targets, snakemake.input.targets_schema),
        settings,
        probe_dir,
    )
log.info("targets by status:\n%s", status.group_by("status").len().sort("status"))
