import logging

from sail_core.logs import configure
from sail_core.report.atlas import AtlasSettings, write_atlas
from sail_core.report.files import DataFiles

configure(snakemake.log[0])
log = logging.getLogger("report")
params = snakemake.params
data = DataFiles.of_index(snakemake.input.index[0], map(tuple, params.imported))
saes = [data.sae(encoder, sae, params.labeller) for encoder, sae in params.saes]
log.info("atlas of %s", ", ".join(files.name for files in saes) or "no SAE")
write_atlas(
    snakemake.output.html,
    data,
    saes,
    AtlasSettings(
        title=params.title,
        max_features=params.max_features,
        enrichment_rows=params.enrichment_rows,
        thumbnail_px=params.thumbnail_px,
        report_split=params.report_split,
    ),
)
