import logging
from pathlib import Path

from sail_core.logs import configure
from sail_core.sae import convert_study_checkpoint

configure(snakemake.log[0])
log = logging.getLogger("import_checkpoint")

model = convert_study_checkpoint(
    snakemake.input.checkpoint, Path(snakemake.output.model).parent, name=snakemake.wildcards.sae
)
log.info(
    "imported %s: %d latents over %d dims", snakemake.input.checkpoint, model.n_latents, model.d_in
)
