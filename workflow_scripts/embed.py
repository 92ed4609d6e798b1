import torch

from sail_core.embed.run import embed_job
from sail_core.layout import Layout
from sail_core.logs import configure
from sail_core.operational_settings import operational_settings


def main():
    configure(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    encoder = snakemake.wildcards.encoder
    own_config = snakemake.config["embedding"]["encoders"][encoder]
    spec = snakemake.params.encoder | operational_settings(
        own_config, f"embedding.encoders.{encoder}"
    )
    spec.pop("resources", None)  # Snakemake's job resources, not an encoder setting
    embed_job(
        index_path=snakemake.input.index,
        slices_dir=Layout.of_index(snakemake.input.index).slices,
        output=snakemake.output[0],
        encoder_name=encoder,
        spec=spec,
        shard=int(snakemake.wildcards.shard),
        scan_ids=snakemake.params.scan_ids,
    )


# DataLoader workers are spawned processes that import this file again
if __name__ == "__main__":
    main()
