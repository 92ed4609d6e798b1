import logging

import polars as pl

from sail_core.data.split import make_split, split_summary
from sail_core.io import write_parquet
from sail_core.logs import configure

configure(snakemake.log[0])
log = logging.getLogger("split")

slices = pl.concat(
    [pl.read_parquet(p, columns=["modality", "image_id"]) for p in snakemake.input.tables]
)
subjects = pl.read_parquet(snakemake.input.subjects)
with_slices = subjects.join(slices.unique(), on=["modality", "image_id"], how="semi")
excluded = subjects.height - with_slices.height
if excluded:
    log.warning("%d scan(s) without slices (quarantined or no anatomy) are not split", excluded)
split = make_split(
    with_slices,
    test_institutes=snakemake.params.test_institutes,
    train_fraction=snakemake.params.train_fraction,
    seed=snakemake.params.seed,
)
summary = split_summary(slices, split)
write_parquet(split, snakemake.output.split, metadata={"seed": str(snakemake.params.seed)})
summary.write_csv(snakemake.output.summary, separator="\t")
log.info("split summary:\n%s", summary)
