from sail_core.data.store import SliceReader
from sail_core.layout import Layout
from sail_core.logs import configure
from sail_core.report.figures import write_example_slices

configure(snakemake.log[0])
write_example_slices(
    snakemake.input.index,
    SliceReader(Layout.of_index(snakemake.input.index).slices),
    snakemake.params.per_group,
    snakemake.output[0],
)
