from sail_core.embed.download import download_model
from sail_core.logs import configure

configure(snakemake.log[0])
download_model(**snakemake.params.source, local_dir=snakemake.output[0])
