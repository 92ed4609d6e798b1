import logging

import polars as pl
import torch

from sail_core.data.errors import BadScanError
from sail_core.data.slicing import (
    SlicingParams,
    select_subject,
    slice_scan,
    write_quarantined,
    write_scan,
)
from sail_core.logs import configure

configure(snakemake.log[0])
log = logging.getLogger("slice_subject")
torch.set_num_threads(snakemake.threads)

modality = snakemake.wildcards.modality
image_id = snakemake.wildcards.image_id
params = SlicingParams(
    size=snakemake.params.size,
    presence_min_voxels=snakemake.params.presence_min_voxels,
    mri_percentiles=snakemake.params.mri_percentiles,
    seed=snakemake.params.seed,
)
try:
    subject = select_subject(pl.read_parquet(snakemake.input.subjects), modality, image_id)
    row = subject.row(0, named=True)
    sliced = slice_scan(
        modality, image_id, row["image_path"], row["segmentation_dir"], row["study_type"], params
    )
    write_scan(sliced, snakemake.output.store, snakemake.output.table, subject=subject)
    log.info("%s/%s: %d slices stored", modality, image_id, sliced.table.height)
except BadScanError as error:
    if snakemake.params.on_bad_scan == "fail":
        raise
    log.error("quarantined %s", error)
    write_quarantined(
        error, modality, image_id, params, snakemake.output.store, snakemake.output.table
    )
