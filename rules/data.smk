if config["dataset"]["source"] == "phantom":

    rule phantom:
        output:
            dataset_meta_files(),
        log:
            "logs/phantom.log",
        benchmark:
            RESULTS.job_timing("phantom")
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
        RESULTS.subjects,
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
        subjects=RESULTS.subjects,
    output:
        store=directory(RESULTS.slice_store),
        table=RESULTS.slice_table,
    log:
        "logs/slice_subject/{modality}/{image_id}.log",
    benchmark:
        RESULTS.job_timing("slice_subject/{modality}/{image_id}")
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
        subjects=RESULTS.subjects,
        tables=slice_tables(),
    output:
        split=RESULTS.split,
        summary=RESULTS.split_summary,
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
        split=RESULTS.split,
        subjects=RESULTS.subjects,
    output:
        index=RESULTS.slice_index,
        quarantine=RESULTS.quarantine,
    log:
        "logs/slice_index.log",
    benchmark:
        RESULTS.job_timing("slice_index")
    conda:
        "../envs/sail.yaml"
    script:
        "../workflow_scripts/slice_index.py"
