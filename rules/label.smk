import os

# The API settings and the image size reach only jobs that call the API, so offline jobs never
# rerun on them.
LABELLING = config["labelling"]
RETRIEVAL = config["retrieval"]
LABEL_CACHE = "results/labels/cache"


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
        "results/benchmarks/label_features/{encoder}/{sae}/{labeller}.tsv"
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        selection=LABELLING["selection"],
        seed=config["seed"],
        offline=lambda wildcards: (
            LABELLING["offline"] if wildcards.labeller == "offline" else None
        ),
        image_size=lambda wildcards: (
            LABELLING["image_size"] if wildcards.labeller == "anthropic" else None
        ),
        anthropic=lambda wildcards: (
            LABELLING["anthropic"] if wildcards.labeller == "anthropic" else None
        ),
        slices_dir=lambda wildcards, input: os.path.dirname(input.index),
        cache_dir=LABEL_CACHE,
    script:
        "../workflow_scripts/label_features.py"


rule evaluate_labels:
    input:
        labels="results/labels/{encoder}/{sae}/{labeller}.parquet",
        index="results/slices/index.parquet",
        codes="results/codes/{encoder}/{sae}.zarr",
    output:
        table="results/labels/{encoder}/{sae}/{labeller}.evaluation.parquet",
        summary="results/labels/{encoder}/{sae}/{labeller}.evaluation.json",
    log:
        "logs/evaluate_labels/{encoder}/{sae}/{labeller}.log",
    benchmark:
        "results/benchmarks/evaluate_labels/{encoder}/{sae}/{labeller}.tsv"
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        evaluation=LABELLING["evaluation"],
        seed=config["seed"],
        image_size=lambda wildcards: (
            LABELLING["image_size"] if wildcards.labeller == "anthropic" else None
        ),
        anthropic=lambda wildcards: (
            LABELLING["anthropic"] if wildcards.labeller == "anthropic" else None
        ),
        slices_dir=lambda wildcards, input: os.path.dirname(input.index),
        cache_dir=LABEL_CACHE,
    script:
        "../workflow_scripts/evaluate_labels.py"


rule language_retrieval:
    input:
        labels="results/labels/{encoder}/{sae}/{labeller}.parquet",
        evaluation=(
            "results/labels/{encoder}/{sae}/{labeller}.evaluation.parquet"
            if RETRIEVAL["require_contrastive_pass"]
            else []
        ),
        index="results/slices/index.parquet",
        codes="results/codes/{encoder}/{sae}.zarr",
    output:
        matches="results/retrieval/{encoder}/{sae}/{labeller}/matches.parquet",
        results="results/retrieval/{encoder}/{sae}/{labeller}/results.parquet",
        precision="results/retrieval/{encoder}/{sae}/{labeller}/precision.parquet",
        summary="results/retrieval/{encoder}/{sae}/{labeller}/summary.json",
    log:
        "logs/language_retrieval/{encoder}/{sae}/{labeller}.log",
    benchmark:
        "results/benchmarks/language_retrieval/{encoder}/{sae}/{labeller}.tsv"
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        retrieval=RETRIEVAL,
        anthropic=(
            LABELLING["anthropic"] if RETRIEVAL["matcher"] == "anthropic" else None
        ),
        cache_dir=LABEL_CACHE,
    script:
        "../workflow_scripts/language_retrieval.py"
