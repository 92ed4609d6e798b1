import logging

import polars as pl
import zarr

from sail_core.data.dataset import rows_without_scan_job
from sail_core.data.index import build_index, write_index
from sail_core.io import write_parquet
from sail_core.logs import configure

configure(snakemake.log[0])
log = logging.getLogger("slice_index")

tables = [pl.read_parquet(p) for p in snakemake.input.tables]
index = build_index(tables, pl.read_parquet(snakemake.input.split))
digest = write_index(index, snakemake.output.index)
log.info("%d slices from %d scans, index hash %s", index.height, len(tables), digest)

quarantined = []
for path in snakemake.input.stores:
    attrs = zarr.open_group(path, mode="r").attrs
    if attrs.get("quarantined"):
        quarantined.append(
            {
                "modality": attrs["modality"],
                "image_id": attrs["image_id"],
                "path": attrs["path"],
                "reason": attrs["reason"],
            }
        )
        log.warning("quarantined %s/%s: %s", attrs["modality"], attrs["image_id"], attrs["reason"])
schema = {"modality": pl.Utf8, "image_id": pl.Utf8, "path": pl.Utf8, "reason": pl.Utf8}
unsliced = rows_without_scan_job(pl.read_parquet(snakemake.input.subjects))
for modality, image_id, _, reason in unsliced.iter_rows():
    log.warning("quarantined meta.csv row %s/%r: %s", modality, image_id, reason)
table = pl.concat([pl.DataFrame(quarantined, schema=schema), unsliced.cast(schema)])
write_parquet(table, snakemake.output.quarantine)
