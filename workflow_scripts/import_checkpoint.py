import json
import logging
from pathlib import Path

import numpy as np
import torch

from sail_core.columns import SPLITS
from sail_core.data.index import read_index
from sail_core.embed.store import open_embeddings
from sail_core.io import write_json
from sail_core.logs import configure
from sail_core.sae import convert_study_checkpoint
from sail_core.sae.run import resolve_device, split_metrics

configure(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
log = logging.getLogger("import_checkpoint")
encoder, sae = snakemake.wildcards.encoder, snakemake.wildcards.sae
training = snakemake.config["sae"]["training"]

out_dir = Path(snakemake.output.model).parent
model = convert_study_checkpoint(snakemake.input.checkpoint, out_dir, name=sae)
log.info(
    "imported %s: %d latents over %d dims", snakemake.input.checkpoint, model.n_latents, model.d_in
)

index, digest = read_index(snakemake.input.index)
view = open_embeddings(list(snakemake.input.shards), index_hash=digest)
if view.shape[1] != model.d_in:
    raise ValueError(
        f"{snakemake.input.checkpoint}: the checkpoint expects {model.d_in}-dimensional inputs, "
        f"encoder {encoder} gives {view.shape[1]}"
    )
split = index["split"].to_numpy()
split_rows = {name: np.flatnonzero(split == name) for name in SPLITS}
model.to(resolve_device(training["device"]))
metrics = split_metrics(
    model, view, split_rows, snakemake.params.batch_size, snakemake.params.dense_threshold
)
conversion = json.loads(Path(snakemake.output.config).read_text())["conversion"]
write_json(
    snakemake.output.metrics,
    {**metrics, "imported": conversion, "name": sae, "index_hash": digest},
)
