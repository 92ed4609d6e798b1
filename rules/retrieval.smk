RETRIEVAL = config["retrieval"]


rule language_retrieval:
    input:
        labels=RESULTS.labels,
        evaluation=(
            RESULTS.label_evaluation if RETRIEVAL["require_contrastive_pass"] else []
        ),
        index=RESULTS.slice_index,
        codes=RESULTS.codes,
        queries=QUERIES["table"],
        queries_schema=QUERIES["schema"],
    output:
        matches=RESULTS.retrieval_matches,
        results=RESULTS.retrieval_results,
        precision=RESULTS.retrieval_precision,
        summary=RESULTS.retrieval_summary,
    log:
        "logs/language_retrieval/{encoder}/{sae}/{labeller}.log",
    benchmark:
        RESULTS.job_timing("language_retrieval/{encoder}/{sae}/{labeller}")
    wildcard_constraints:
        labeller="offline|anthropic",
    conda:
        "../envs/llm.yaml"
    threads: 1
    params:
        retrieval=result_settings(RETRIEVAL, "retrieval"),
        anthropic=(ANTHROPIC if RETRIEVAL["matcher"] == "anthropic" else None),
        cache_dir=RESULTS.label_cache,
    script:
        "../workflow_scripts/language_retrieval.py"
