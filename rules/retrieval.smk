RETRIEVAL = config["retrieval"]


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
        queries=QUERIES["table"],
        queries_schema=QUERIES["schema"],
    output:
        matches="results/retrieval/{encoder}/{sae}/{labeller}/matches.parquet",
        results="results/retrieval/{encoder}/{sae}/{labeller}/results.parquet",
        precision="results/retrieval/{encoder}/{sae}/{labeller}/precision.parquet",
        summary="results/retrieval/{encoder}/{sae}/{labeller}/summary.json",
    log:
        "logs/language_retrieval/{encoder}/{sae}/{labeller}.log",
    benchmark:
        "results/timings/language_retrieval/{encoder}/{sae}/{labeller}.tsv"
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        retrieval=result_settings(RETRIEVAL, "retrieval"),
        anthropic=(ANTHROPIC if RETRIEVAL["matcher"] == "anthropic" else None),
        cache_dir=LABEL_CACHE,
    script:
        "../workflow_scripts/language_retrieval.py"
