rule probe:
    input:
        index=RESULTS.slice_index,
        targets=PROBE_TARGETS["table"],
        targets_schema=PROBE_TARGETS["schema"],
        codes=RESULTS.codes,
        embeddings=lambda wildcards: embedding_shards(wildcards.encoder),
    output:
        probes=directory(RESULTS.probes),
    log:
        "logs/probe/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("probe/{encoder}/{sae}")
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
        index=RESULTS.slice_index,
        targets=PROBE_TARGETS["table"],
        targets_schema=PROBE_TARGETS["schema"],
        codes=RESULTS.codes,
        embeddings=lambda wildcards: embedding_shards(wildcards.encoder),
        probes=RESULTS.probes,
    output:
        curves=RESULTS.recovery_curves,
        thresholds=RESULTS.recovery_thresholds,
        summary=RESULTS.recovery_summary,
    log:
        "logs/recovery/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("recovery/{encoder}/{sae}")
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
        index=RESULTS.slice_index,
        codes=RESULTS.codes,
    output:
        features=RESULTS.monosemanticity_features,
        null=RESULTS.monosemanticity_null,
        scores=RESULTS.monosemanticity_scores,
        detection=RESULTS.structure_detection,
    log:
        "logs/monosemanticity/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("monosemanticity/{encoder}/{sae}")
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
        index=RESULTS.slice_index,
        codes=RESULTS.codes,
        embeddings=lambda wildcards: embedding_shards(wildcards.encoder),
    output:
        per_reference=RESULTS.fingerprint_per_reference,
        summary=RESULTS.fingerprint_summary,
        retrieved=RESULTS.fingerprint_retrieved,
    log:
        "logs/fingerprint/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("fingerprint/{encoder}/{sae}")
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
            RESULTS.monosemanticity_scores,
            encoder=wildcards.encoder,
            sae=sae_names(wildcards.encoder),
        ),
        thresholds=lambda wildcards: expand(
            RESULTS.recovery_thresholds,
            encoder=wildcards.encoder,
            sae=sae_names(wildcards.encoder),
        ),
        summaries=lambda wildcards: expand(
            RESULTS.recovery_summary,
            encoder=wildcards.encoder,
            sae=sae_names(wildcards.encoder),
        ),
    output:
        ranking=RESULTS.ranking,
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
        recovery=RESULTS.recovery_summary,
        monosemanticity=RESULTS.monosemanticity_scores,
        fingerprint=RESULTS.fingerprint_summary,
        detection=RESULTS.structure_detection,
        ranking=RESULTS.ranking,
    output:
        summary=RESULTS.eval_summary,
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
