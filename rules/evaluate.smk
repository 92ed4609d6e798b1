rule probe:
    input:
        index="results/slices/index.parquet",
        targets=PROBE_TARGETS["table"],
        targets_schema=PROBE_TARGETS["schema"],
        codes="results/codes/{encoder}/{sae}.zarr",
        embeddings=lambda wildcards: embedding_shards(wildcards.encoder),
    output:
        probes=directory("results/eval/{encoder}/{sae}/probes"),
    log:
        "logs/probe/{encoder}/{sae}.log",
    benchmark:
        "results/timings/probe/{encoder}/{sae}.tsv"
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        c_grid=config["evaluation"]["probe"]["c_grid"],
        default_c=config["evaluation"]["probe"]["default_c"],
        penalty=config["evaluation"]["probe"]["penalty"],
        max_iter=config["evaluation"]["probe"]["max_iter"],
        max_train_rows=config["evaluation"]["probe"]["max_train_rows"],
        min_class_rows=config["evaluation"]["probe"]["min_class_rows"],
        n_top_coefficients=config["evaluation"]["probe"]["n_top_coefficients"],
        dense_l2_normalise=config["evaluation"]["probe"]["dense_l2_normalise"],
        seed=config["seed"],
    script:
        "../workflow_scripts/probe.py"


rule recovery:
    input:
        index="results/slices/index.parquet",
        targets=PROBE_TARGETS["table"],
        targets_schema=PROBE_TARGETS["schema"],
        codes="results/codes/{encoder}/{sae}.zarr",
        embeddings=lambda wildcards: embedding_shards(wildcards.encoder),
        probes="results/eval/{encoder}/{sae}/probes",
    output:
        curves="results/eval/{encoder}/{sae}/recovery/curves.parquet",
        thresholds="results/eval/{encoder}/{sae}/recovery/thresholds.parquet",
        summary="results/eval/{encoder}/{sae}/recovery/summary.parquet",
    log:
        "logs/recovery/{encoder}/{sae}.log",
    benchmark:
        "results/timings/recovery/{encoder}/{sae}.tsv"
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        c_grid=config["evaluation"]["probe"]["c_grid"],
        default_c=config["evaluation"]["probe"]["default_c"],
        penalty=config["evaluation"]["probe"]["penalty"],
        max_iter=config["evaluation"]["probe"]["max_iter"],
        dense_l2_normalise=config["evaluation"]["probe"]["dense_l2_normalise"],
        n_values=config["evaluation"]["recovery"]["n_values"],
        fractions=config["evaluation"]["recovery"]["fractions"],
        min_dense_auc=config["evaluation"]["recovery"]["min_dense_auc"],
        report_split=config["evaluation"]["recovery"]["report_split"],
        methods=config["evaluation"]["recovery"]["methods"],
        seed=config["seed"],
    script:
        "../workflow_scripts/recovery.py"


rule monosemanticity:
    input:
        index="results/slices/index.parquet",
        codes="results/codes/{encoder}/{sae}.zarr",
    output:
        features="results/eval/{encoder}/{sae}/monosemanticity/features.parquet",
        null="results/eval/{encoder}/{sae}/monosemanticity/null.parquet",
        scores="results/eval/{encoder}/{sae}/monosemanticity/scores.parquet",
        detection="results/eval/{encoder}/{sae}/monosemanticity/structure_detection.parquet",
    log:
        "logs/monosemanticity/{encoder}/{sae}.log",
    benchmark:
        "results/timings/monosemanticity/{encoder}/{sae}.tsv"
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        splits=config["evaluation"]["monosemanticity"]["splits"],
        n_values=config["evaluation"]["monosemanticity"]["n_values"],
        null_draws=config["evaluation"]["monosemanticity"]["null_draws"],
        detection_auroc=config["evaluation"]["monosemanticity"]["detection_auroc"],
        seed=config["seed"],
    script:
        "../workflow_scripts/monosemanticity.py"


rule fingerprint:
    input:
        index="results/slices/index.parquet",
        codes="results/codes/{encoder}/{sae}.zarr",
        embeddings=lambda wildcards: embedding_shards(wildcards.encoder),
    output:
        per_reference="results/eval/{encoder}/{sae}/fingerprint/per_reference.parquet",
        summary="results/eval/{encoder}/{sae}/fingerprint/summary.parquet",
        retrieved="results/eval/{encoder}/{sae}/fingerprint/retrieved.parquet",
    log:
        "logs/fingerprint/{encoder}/{sae}.log",
    benchmark:
        "results/timings/fingerprint/{encoder}/{sae}.tsv"
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        splits=config["evaluation"]["fingerprint"]["splits"],
        n_references=config["evaluation"]["fingerprint"]["n_references"],
        k_values=config["evaluation"]["fingerprint"]["k_values"],
        n_retrieved=config["evaluation"]["fingerprint"]["n_retrieved"],
        report_k=config["evaluation"]["fingerprint"]["report_k"],
        seed=config["seed"],
    script:
        "../workflow_scripts/fingerprint.py"


checkpoint rank_configs:
    input:
        scores=lambda wildcards: expand(
            "results/eval/{encoder}/{sae}/monosemanticity/scores.parquet",
            encoder=wildcards.encoder,
            sae=sae_names(wildcards.encoder),
        ),
        thresholds=lambda wildcards: expand(
            "results/eval/{encoder}/{sae}/recovery/thresholds.parquet",
            encoder=wildcards.encoder,
            sae=sae_names(wildcards.encoder),
        ),
        summaries=lambda wildcards: expand(
            "results/eval/{encoder}/{sae}/recovery/summary.parquet",
            encoder=wildcards.encoder,
            sae=sae_names(wildcards.encoder),
        ),
    output:
        ranking="results/eval/ranking/{encoder}.parquet",
    log:
        "logs/rank_configs/{encoder}.log",
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        saes=lambda wildcards: sae_names(wildcards.encoder),
        mono_statistic=config["evaluation"]["ranking"]["mono_statistic"],
        perf_statistic=config["evaluation"]["ranking"]["perf_statistic"],
        selected=lambda wildcards: config["evaluation"]["ranking"]["selected"].get(
            wildcards.encoder, []
        ),
        min_dense_auc=config["evaluation"]["recovery"]["min_dense_auc"],
        report_split=config["evaluation"]["recovery"]["report_split"],
        n_values=config["evaluation"]["recovery"]["n_values"],
    script:
        "../workflow_scripts/rank_configs.py"


rule summarize:
    input:
        sae_metrics=sae_metrics,
        recovery="results/eval/{encoder}/{sae}/recovery/summary.parquet",
        monosemanticity="results/eval/{encoder}/{sae}/monosemanticity/scores.parquet",
        fingerprint="results/eval/{encoder}/{sae}/fingerprint/summary.parquet",
        detection="results/eval/{encoder}/{sae}/monosemanticity/structure_detection.parquet",
        ranking="results/eval/ranking/{encoder}.parquet",
    output:
        summary="results/eval/{encoder}/{sae}/summary.json",
    log:
        "logs/summarize/{encoder}/{sae}.log",
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        common_prevalence=config["evaluation"]["monosemanticity"]["common_prevalence"],
        recovery_n=config["evaluation"]["recovery"]["report_n"],
        fingerprint_k=config["evaluation"]["fingerprint"]["report_k"],
        report_split=config["evaluation"]["recovery"]["report_split"],
        keys_selecting_on_test=keys_selecting_on_test(config),
    script:
        "../workflow_scripts/summarize.py"
