import logging
from pathlib import Path

import torch

from sail_core.data.index import read_index
from sail_core.embed.store import open_embeddings
from sail_core.logs import configure
from sail_core.sae import encode_codes, load_sae
from sail_core.sae.run import resolve_device

configure(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
log = logging.getLogger("encode_codes")
encoder, sae = snakemake.wildcards.encoder, snakemake.wildcards.sae

_, digest = read_index(snakemake.input.index)
view = open_embeddings(list(snakemake.input.shards), index_hash=digest)
device = resolve_device(snakemake.config["sae"]["training"]["device"])
model = load_sae(Path(snakemake.input.model).parent, device=device)
encode_codes(
    model,
    view,
    snakemake.output.codes,
    chunk_rows=snakemake.config["sae"]["codes"]["chunk_rows"],
    attrs={"index_hash": digest, "sae": sae, "encoder": encoder, "seed": snakemake.params.seed},
    source=f"encoder {encoder}, SAE {sae}",
)
