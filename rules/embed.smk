from sail_core.embed import plan

EMBEDDING = config["embedding"]


rule embed:
    input:
        index=RESULTS.slice_index,
        slices=shard_slice_inputs,
        model=lambda wildcards: plan.model_inputs(encoder_spec(wildcards.encoder)),
    output:
        directory(RESULTS.embedding_shard),
    log:
        "logs/embed/{encoder}/shard-{shard}.log",
    benchmark:
        RESULTS.job_timing("embed/{encoder}/shard-{shard}")
    wildcard_constraints:
        encoder=plan.names_regex(EMBEDDING["encoders"]),
    conda:
        embed_env
    threads: EMBEDDING["threads"]
    resources:
        gpu=1,
        mem_mb=lambda wildcards: plan.job_resource(
            EMBEDDING, wildcards.encoder, "mem_mb"
        ),
        runtime=lambda wildcards: plan.job_resource(
            EMBEDDING, wildcards.encoder, "runtime"
        ),
    params:
        encoder=lambda wildcards: plan.job_params(
            wildcards.encoder, encoder_spec(wildcards.encoder)
        ),
        scan_ids=shard_scan_ids,
    script:
        "../workflow_scripts/embed.py"


localrules:
    download_model,


rule download_model:
    output:
        directory(f"{plan.DOWNLOADED_MODELS_DIR}/{{encoder}}"),
    log:
        "logs/download_model/{encoder}.log",
    wildcard_constraints:
        encoder=plan.names_regex(plan.downloaded_encoders(EMBEDDING["encoders"])),
    conda:
        "../envs/embed-gpu.yaml"
    params:
        source=lambda wildcards: plan.download_source(
            wildcards.encoder, encoder_spec(wildcards.encoder)
        ),
    script:
        "../workflow_scripts/download_model.py"
