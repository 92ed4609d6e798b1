from sail_core.data.store import SliceReader
from sail_core.logs import configure
from sail_core.report.figures import write_example_slices
from sail_core.report.layout import DataFiles

configure(snakemake.log[0])
write_example_slices(
    snakemake.input.index,
    SliceReader(DataFiles.of_index(snakemake.input.index).slices_dir),
    snakemake.params.per_group,
    snakemake.output[0],
)
