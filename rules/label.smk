# The API settings and the image size reach only jobs that call the API, so offline jobs never
# rerun on them. They call the Anthropic API and may wait up to labelling.anthropic.max_wait_s for a batch:
# on a cluster they run where Snakemake runs (network, no job time limit); they are light.
localrules:
    label_features,
    evaluate_labels,
    language_retrieval,


rule label_features:
    input:
        stats=RESULTS.feature_stats,
        top_slices=RESULTS.top_slices,
        enrichment=RESULTS.enrichment,
        index=RESULTS.slice_index,
        slices=slice_stores(),
        monosemanticity=(
            RESULTS.monosemanticity_features
            if LABELLING["selection"]["ranking"] == "monosemanticity"
            else []
        ),
    output:
        labels=RESULTS.labels,
        usage=RESULTS.label_usage,
    log:
        "logs/label_features/{encoder}/{sae}/{labeller}.log",
    benchmark:
        RESULTS.job_timing("label_features/{encoder}/{sae}/{labeller}")
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        selection=result_settings(LABELLING["selection"], "labelling.selection"),
        seed=config["seed"],
        offline=lambda wildcards: (
            result_settings(LABELLING["offline"], "labelling.offline")
            if wildcards.labeller == "offline"
            else None
        ),
        image_size=lambda wildcards: (
            LABELLING["image_size"] if wildcards.labeller == "anthropic" else None
        ),
        anthropic=lambda wildcards: (
            ANTHROPIC if wildcards.labeller == "anthropic" else None
        ),
        cache_dir=RESULTS.label_cache,
    script:
        "../workflow_scripts/label_features.py"


rule evaluate_labels:
    input:
        labels=RESULTS.labels,
        index=RESULTS.slice_index,
        slices=slice_stores(),
        codes=RESULTS.codes,
    output:
        table=RESULTS.label_evaluation,
        summary=RESULTS.label_evaluation_summary,
    log:
        "logs/evaluate_labels/{encoder}/{sae}/{labeller}.log",
    benchmark:
        RESULTS.job_timing("evaluate_labels/{encoder}/{sae}/{labeller}")
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        evaluation=result_settings(LABELLING["evaluation"], "labelling.evaluation"),
        seed=config["seed"],
        image_size=lambda wildcards: (
            LABELLING["image_size"] if wildcards.labeller == "anthropic" else None
        ),
        anthropic=lambda wildcards: (
            ANTHROPIC if wildcards.labeller == "anthropic" else None
        ),
        cache_dir=RESULTS.label_cache,
    script:
        "../workflow_scripts/evaluate_labels.py"
