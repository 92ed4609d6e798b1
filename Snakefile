from snakemake.utils import min_version

min_version("9.0")


# the demo's config, unless --configfile names another one (a preset is complete on its own)
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/embed.smk"
include: "rules/sae.smk"
include: "rules/mine.smk"
include: "rules/evaluate.smk"
include: "rules/label.smk"
include: "rules/retrieval.smk"
include: "rules/universality.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        data_targets(),
        sae_targets(),
        analysis_targets,
        universality_targets,
        RESULTS.report,
