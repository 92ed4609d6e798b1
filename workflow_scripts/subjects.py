import logging

from sail_core.data.dataset import build_subjects, check_subjects
from sail_core.io import write_parquet
from sail_core.logs import configure

configure(snakemake.log[0])
log = logging.getLogger("subjects")

subjects = build_subjects(snakemake.params.roots)
subjects = check_subjects(
    subjects, snakemake.input.schema, on_bad_scan=snakemake.params.on_bad_scan
)
write_parquet(subjects, snakemake.output[0])
log.info(
    "%d scans (%s)",
    subjects.height,
    ", ".join(
        f"{m}: {n}" for m, n in subjects.group_by("modality").len().sort("modality").iter_rows()
    ),
)
