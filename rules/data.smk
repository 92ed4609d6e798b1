if config["dataset"]["source"] == "phantom":

    rule phantom:
        output:
            dataset_meta_files(),
        log:
            "logs/phantom.log",
        benchmark:
            "results/timings/phantom.tsv"
        conda:
            "../envs/sail.yaml"
        params:
            roots=DATASET_ROOTS,
            n_ct=config["phantom"]["n_ct"],
            n_mri=config["phantom"]["n_mri"],
            seed=config["phantom"]["seed"],
            ct_matrix=config["phantom"]["ct_matrix"],
            ct_max_slices=config["phantom"]["ct_max_slices"],
            mri_matrix=config["phantom"]["mri_matrix"],
            mri_slice_thickness_mm=config["phantom"]["mri_slice_thickness_mm"],
        script:
            "../workflow_scripts/phantom.py"


rule subjects:
    input:
        meta=dataset_meta_files(),
        schema=workflow.source_path("../schemas/subjects.schema.yaml"),
    output:
        "results/meta/subjects.parquet",
    log:
        "logs/subjects.log",
    conda:
        "../envs/sail.yaml"
    params:
        roots=DATASET_ROOTS,
        on_bad_scan=config["dataset"]["on_bad_scan"],
    script:
        "../workflow_scripts/subjects.py"


rule slice_subject:
    input:
        subjects="results/meta/subjects.parquet",
    output:
        store=directory("results/slices/{modality}/{image_id}.zarr"),
        table="results/slices/{modality}/{image_id}.parquet",
    log:
        "logs/slice_subject/{modality}/{image_id}.log",
    benchmark:
        "results/timings/slice_subject/{modality}/{image_id}.tsv"
    group:
        "slicing"
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        size=config["slicing"]["size"],
        presence_min_voxels=config["slicing"]["presence_min_voxels"],
        mri_percentiles=config["slicing"]["mri_percentiles"],
        on_bad_scan=config["dataset"]["on_bad_scan"],
        seed=config["seed"],
    script:
        "../workflow_scripts/slice_subject.py"


rule split:
    input:
        subjects="results/meta/subjects.parquet",
        tables=slice_tables(),
    output:
        split="results/meta/split.parquet",
        summary="results/meta/split_summary.tsv",
    log:
        "logs/split.log",
    conda:
        "../envs/sail.yaml"
    params:
        test_institutes=config["split"]["test_institutes"],
        train_fraction=config["split"]["train_fraction"],
        seed=config["seed"],
    script:
        "../workflow_scripts/split.py"


rule slice_index:
    input:
        tables=slice_tables(),
        stores=slice_stores(),
        split="results/meta/split.parquet",
        subjects="results/meta/subjects.parquet",
    output:
        index="results/slices/index.parquet",
        quarantine="results/meta/quarantine.parquet",
    log:
        "logs/slice_index.log",
    benchmark:
        "results/timings/slice_index.tsv"
    conda:
        "../envs/sail.yaml"
    script:
        "../workflow_scripts/slice_index.py"
