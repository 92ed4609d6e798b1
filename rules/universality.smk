# Which features are real: seed stability of the selected SAE of every encoder (extra seeds are
# train_sae jobs named {sae}_S{seed}) and the alignment of every pair of encoders.
UNIVERSALITY = config["universality"]
STABILITY_SEEDS = config["sae"]["stability_seeds"]
UNIVERSALITY_LABELLER = config["labelling"]["labeller"]
BASE_SAE = r"D[0-9-]+_K[0-9-]+"


rule stability:
    input:
        models=lambda wildcards: expand(
            RESULTS.sae_file("model.safetensors"),
            encoder=wildcards.encoder,
            sae=seed_runs(wildcards),
        ),
        codes=lambda wildcards: expand(
            RESULTS.codes, encoder=wildcards.encoder, sae=seed_runs(wildcards)
        ),
        index=RESULTS.slice_index,
        labels=RESULTS.labels.partial(labeller=UNIVERSALITY_LABELLER),
    output:
        twins=RESULTS.stability_twins,
        features=RESULTS.stability_features,
        summary=RESULTS.stability_summary,
    log:
        "logs/stability/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("stability/{encoder}/{sae}")
    wildcard_constraints:
        sae=BASE_SAE,
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        seeds=STABILITY_SEEDS,
        main_seed=config["sae"]["training"]["seed"],
        splits=UNIVERSALITY["splits"],
        min_cosine=UNIVERSALITY["min_cosine"],
        min_correlation=UNIVERSALITY["min_correlation"],
        chunk_rows=UNIVERSALITY["chunk_rows"],
    script:
        "../workflow_scripts/stability.py"


rule alignment:
    input:
        codes_a=RESULTS.codes.partial(encoder="{encoder_a}", sae="{sae_a}"),
        codes_b=RESULTS.codes.partial(encoder="{encoder_b}", sae="{sae_b}"),
        index=RESULTS.slice_index,
        labels_a=RESULTS.labels.partial(
            encoder="{encoder_a}", sae="{sae_a}", labeller=UNIVERSALITY_LABELLER
        ),
        labels_b=RESULTS.labels.partial(
            encoder="{encoder_b}", sae="{sae_b}", labeller=UNIVERSALITY_LABELLER
        ),
        enrichment_a=RESULTS.enrichment.partial(encoder="{encoder_a}", sae="{sae_a}"),
        enrichment_b=RESULTS.enrichment.partial(encoder="{encoder_b}", sae="{sae_b}"),
    output:
        features=RESULTS.alignment_file("features.parquet"),
        shared=RESULTS.alignment_file("shared.parquet"),
        unique=RESULTS.alignment_file("unique.parquet"),
        summary=RESULTS.alignment_file("summary.json"),
    log:
        "logs/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}.log",
    benchmark:
        RESULTS.job_timing("alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}")
    wildcard_constraints:
        encoder_a=r"[A-Za-z0-9_.-]+",
        encoder_b=r"[A-Za-z0-9_.-]+",
        sae_a=BASE_SAE,
        sae_b=BASE_SAE,
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        splits=UNIVERSALITY["splits"],
        chunk_rows=UNIVERSALITY["chunk_rows"],
        null_permutations=UNIVERSALITY["null_permutations"],
        null_quantile=UNIVERSALITY["null_quantile"],
        top_structures=UNIVERSALITY["top_structures"],
        seed=config["seed"],
    script:
        "../workflow_scripts/alignment.py"
