from sail_core.logs import configure
from sail_core.report.figures import write_sae_figures

configure(snakemake.log[0])
write_sae_figures(
    snakemake.input.get("history"),
    snakemake.input.recovery,
    snakemake.input.metrics,
    snakemake.params.split,
    snakemake.output.training,
    snakemake.output.recovery,
)
