from pathlib import Path

import torch

from sail_core.embed.run import embed_job
from sail_core.logs import configure


def main():
    configure(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    embed_job(
        index_path=snakemake.input.index,
        slices_dir=Path(snakemake.input.index).parent,
        output=snakemake.output[0],
        encoder_name=snakemake.wildcards.encoder,
        spec=snakemake.params.encoder,
        shard=int(snakemake.wildcards.shard),
        scan_ids=snakemake.params.scan_ids,
    )


# DataLoader workers are spawned processes that import this file again
if __name__ == "__main__":
    main()
