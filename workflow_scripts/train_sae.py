import logging
from pathlib import Path

import numpy as np
import torch

from sail_core.columns import SPLITS
from sail_core.data.index import read_index
from sail_core.embed.store import open_embeddings
from sail_core.logs import configure
from sail_core.operational_settings import with_operational
from sail_core.sae import TrainConfig, train_sae
from sail_core.sae.config import split_seed_run

configure(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
log = logging.getLogger("train_sae")
encoder, sae = snakemake.wildcards.encoder, snakemake.wildcards.sae

index, digest = read_index(snakemake.input.index)
view = open_embeddings(list(snakemake.input.shards), index_hash=digest)
split = index["split"].to_numpy()
split_rows = {name: np.flatnonzero(split == name) for name in SPLITS}
log.info("%s %s: %s rows per split", encoder, sae, {k: v.size for k, v in split_rows.items()})

# an extra-seed run (`{sae}_S{seed}`) trains the same config with its own seed
base, run_seed = split_seed_run(sae)
training = with_operational(snakemake.params.training, snakemake.config, "sae.training")
if run_seed is not None:
    training["seed"] = run_seed
train_sae(
    view,
    split_rows,
    base,
    TrainConfig.from_dict(training),
    Path(snakemake.output.model).parent,
    source=f"encoder {encoder} ({len(snakemake.input.shards)} embedding shards)",
    expected_dim=snakemake.params.dim,
    provenance={"encoder": encoder, "sae": sae, "index_hash": digest},
)
