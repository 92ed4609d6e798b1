from sail_core.report.files import atlas_inputs
from sail_core.report.universality_section import universality_inputs

REPORT = config["report"]
REPORT_SPLIT = config["evaluation"]["recovery"]["report_split"]
LABELLER = config["labelling"]["labeller"]


report: "../report/workflow.rst"


rule report_slice_examples:
    input:
        index=RESULTS.slice_index,
        slices=slice_stores(),
    output:
        report(
            RESULTS.example_slices,
            category="Data",
            caption="../report/example_slices.rst",
        ),
    log:
        "logs/report_slice_examples.log",
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        per_group=REPORT["example_slices"],
    script:
        "../workflow_scripts/report_slice_examples.py"


rule report_figures:
    input:
        history=sae_history,
        metrics=sae_metrics,
        recovery=RESULTS.recovery_summary,
    output:
        training=report(
            RESULTS.training_curves,
            category="{encoder}",
            subcategory="{sae}",
            labels={"figure": "training curves"},
            caption="../report/training_curves.rst",
        ),
        recovery=report(
            RESULTS.recovery_curve_figure,
            category="{encoder}",
            subcategory="{sae}",
            labels={"figure": "recovery curves"},
            caption="../report/recovery_curves.rst",
        ),
    log:
        "logs/report_figures/{encoder}/{sae}.log",
    wildcard_constraints:
        encoder=r"[^/]+",
        sae=r"[^/]+",
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        split=REPORT_SPLIT,
    script:
        "../workflow_scripts/report_figures.py"


rule report:
    input:
        unpack(
            lambda wildcards: atlas_inputs(
                RESULTS.root,
                selected_saes(),
                LABELLER,
                sae_names,
                slice_stores(),
                frozenset(IMPORTED_SAES),
            )
            | universality_inputs(
                RESULTS.root,
                selected_saes(),
                LABELLER,
                bool(config.get("sae", {}).get("stability_seeds")),
            )
        ),
    output:
        html=report(
            RESULTS.report,
            category="Feature atlas",
            caption="../report/atlas.rst",
        ),
    log:
        "logs/report.log",
    benchmark:
        RESULTS.job_timing("report")
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        title=REPORT["title"],
        max_features=REPORT["max_features"],
        enrichment_rows=REPORT["enrichment_rows"],
        thumbnail_px=REPORT["thumbnail_px"],
        report_split=REPORT_SPLIT,
        labeller=LABELLER,
        saes=lambda wildcards: selected_saes(),
        imported=IMPORTED_SAES,
    script:
        "../workflow_scripts/report.py"
