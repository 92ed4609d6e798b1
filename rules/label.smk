import os

# The API settings and the image size reach only jobs that call the API, so offline jobs never
# rerun on them.


# They call the Anthropic API and may wait up to labelling.anthropic.max_wait_s for a batch:
# on a cluster they run where Snakemake runs (network, no job time limit); they are light.
localrules:
    label_features,
    evaluate_labels,
    language_retrieval,


rule label_features:
    input:
        stats="results/features/{encoder}/{sae}/stats.parquet",
        top_slices="results/features/{encoder}/{sae}/top_slices.parquet",
        enrichment="results/features/{encoder}/{sae}/enrichment.parquet",
        index="results/slices/index.parquet",
        slices=slice_stores(),
        monosemanticity=(
            "results/eval/{encoder}/{sae}/monosemanticity/features.parquet"
            if LABELLING["selection"]["ranking"] == "monosemanticity"
            else []
        ),
    output:
        labels="results/labels/{encoder}/{sae}/{labeller}.parquet",
        usage="results/labels/{encoder}/{sae}/{labeller}.usage.json",
    log:
        "logs/label_features/{encoder}/{sae}/{labeller}.log",
    benchmark:
        "results/timings/label_features/{encoder}/{sae}/{labeller}.tsv"
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
        slices_dir=lambda wildcards, input: os.path.dirname(input.index),
        cache_dir=LABEL_CACHE,
    script:
        "../workflow_scripts/label_features.py"


rule evaluate_labels:
    input:
        labels="results/labels/{encoder}/{sae}/{labeller}.parquet",
        index="results/slices/index.parquet",
        slices=slice_stores(),
        codes="results/codes/{encoder}/{sae}.zarr",
    output:
        table="results/labels/{encoder}/{sae}/{labeller}.evaluation.parquet",
        summary="results/labels/{encoder}/{sae}/{labeller}.evaluation.json",
    log:
        "logs/evaluate_labels/{encoder}/{sae}/{labeller}.log",
    benchmark:
        "results/timings/evaluate_labels/{encoder}/{sae}/{labeller}.tsv"
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
        slices_dir=lambda wildcards, input: os.path.dirname(input.index),
        cache_dir=LABEL_CACHE,
    script:
        "../workflow_scripts/evaluate_labels.py"
