# Which features are real: seed stability of the selected SAE of every encoder (extra seeds are
# train_sae jobs named {sae}_S{seed}) and the alignment of every pair of encoders.
UNIVERSALITY = config["universality"]
STABILITY_SEEDS = config["sae"]["stability_seeds"]
UNIVERSALITY_LABELLER = config["labelling"]["labeller"]
BASE_SAE = r"D[0-9-]+_K[0-9-]+"


rule stability:
    input:
        models=lambda wildcards: [
            f"results/sae/{wildcards.encoder}/{run}/model.safetensors"
            for run in seed_runs(wildcards)
        ],
        codes=lambda wildcards: [
            f"results/codes/{wildcards.encoder}/{run}.zarr"
            for run in seed_runs(wildcards)
        ],
        index="results/slices/index.parquet",
        labels=f"results/labels/{{encoder}}/{{sae}}/{UNIVERSALITY_LABELLER}.parquet",
    output:
        twins="results/universality/{encoder}/{sae}/stability/twins.parquet",
        features="results/universality/{encoder}/{sae}/stability/features.parquet",
        summary="results/universality/{encoder}/{sae}/stability/summary.json",
    log:
        "logs/stability/{encoder}/{sae}.log",
    benchmark:
        "results/benchmarks/stability/{encoder}/{sae}.tsv"
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
        codes_a="results/codes/{encoder_a}/{sae_a}.zarr",
        codes_b="results/codes/{encoder_b}/{sae_b}.zarr",
        index="results/slices/index.parquet",
        labels_a=f"results/labels/{{encoder_a}}/{{sae_a}}/{UNIVERSALITY_LABELLER}.parquet",
        labels_b=f"results/labels/{{encoder_b}}/{{sae_b}}/{UNIVERSALITY_LABELLER}.parquet",
        enrichment_a="results/features/{encoder_a}/{sae_a}/enrichment.parquet",
        enrichment_b="results/features/{encoder_b}/{sae_b}/enrichment.parquet",
    output:
        features="results/universality/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}/features.parquet",
        shared="results/universality/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}/shared.parquet",
        unique="results/universality/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}/unique.parquet",
        summary="results/universality/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}/summary.json",
    log:
        "logs/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}.log",
    benchmark:
        "results/benchmarks/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}.tsv"
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
