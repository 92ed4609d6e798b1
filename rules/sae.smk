# SAE stage: training jobs take one thread by default; raise with --set-threads train_sae=N.
SAE = config["sae"]


rule train_sae:
    input:
        shards=lambda wildcards: embedding_shards(wildcards.encoder),
        index="results/slices/index.parquet",
    output:
        model="results/sae/{encoder}/{sae}/model.safetensors",
        config="results/sae/{encoder}/{sae}/config.json",
        metrics="results/sae/{encoder}/{sae}/metrics.json",
        history="results/sae/{encoder}/{sae}/history.parquet",
    log:
        "logs/train_sae/{encoder}/{sae}.log",
    benchmark:
        "results/timings/train_sae/{encoder}/{sae}.tsv"
    conda:
        "../envs/sail.yaml"
    threads: 1
    resources:
        mem_mb=SAE["training"]["memory_budget_mb"] + 2048,
    params:
        training=result_settings(SAE["training"], "sae.training"),
        dim=lambda wildcards: encoder_spec(wildcards.encoder).get("dim"),
    script:
        "../workflow_scripts/train_sae.py"


rule import_checkpoint:
    input:
        checkpoint=imported_checkpoint,
        shards=lambda wildcards: embedding_shards(wildcards.encoder),
        index="results/slices/index.parquet",
    output:
        model="results/sae_imports/{encoder}/{sae}/model.safetensors",
        config="results/sae_imports/{encoder}/{sae}/config.json",
        metrics="results/sae_imports/{encoder}/{sae}/metrics.json",
    log:
        "logs/import_checkpoint/{encoder}/{sae}.log",
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        batch_size=SAE["training"]["batch_size"],
        dense_threshold=SAE["training"]["dense_threshold"],
    script:
        "../workflow_scripts/import_checkpoint.py"


rule encode_codes:
    input:
        unpack(sae_model),
        shards=lambda wildcards: embedding_shards(wildcards.encoder),
        index="results/slices/index.parquet",
    output:
        codes=directory("results/codes/{encoder}/{sae}.zarr"),
    log:
        "logs/encode_codes/{encoder}/{sae}.log",
    benchmark:
        "results/timings/encode_codes/{encoder}/{sae}.tsv"
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        seed=run_seed,
    script:
        "../workflow_scripts/encode_codes.py"
