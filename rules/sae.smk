# SAE stage: training jobs take one thread by default; raise with --set-threads train_sae=N.
SAE = config["sae"]


rule train_sae:
    input:
        shards=lambda wildcards: embedding_shards(wildcards.encoder),
        index=RESULTS.slice_index,
    output:
        model=RESULTS.sae_file("model.safetensors"),
        config=RESULTS.sae_file("config.json"),
        metrics=RESULTS.sae_file("metrics.json"),
        history=RESULTS.sae_file("history.parquet"),
    log:
        "logs/train_sae/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("train_sae/{encoder}/{sae}")
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
        index=RESULTS.slice_index,
    output:
        model=RESULTS.sae_file("model.safetensors", imported=True),
        config=RESULTS.sae_file("config.json", imported=True),
        metrics=RESULTS.sae_file("metrics.json", imported=True),
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
        index=RESULTS.slice_index,
    output:
        codes=directory(RESULTS.codes),
    log:
        "logs/encode_codes/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("encode_codes/{encoder}/{sae}")
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        seed=run_seed,
    script:
        "../workflow_scripts/encode_codes.py"
