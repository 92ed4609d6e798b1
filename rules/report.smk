from pathlib import Path

from sail_core.report.layout import atlas_inputs
from sail_core.report.universality_section import universality_inputs

REPORT = config["report"]
REPORT_SPLIT = config["evaluation"]["recovery"]["report_split"]
LABELLER = config["labelling"]["labeller"]


report: "../report/workflow.rst"


rule report_slice_examples:
    input:
        index="results/slices/index.parquet",
        slices=slice_stores(),
    output:
        report(
            "results/report/figures/example_slices.png",
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
        recovery="results/eval/{encoder}/{sae}/recovery/summary.parquet",
    output:
        training=report(
            "results/report/figures/{encoder}/{sae}/training_curves.png",
            category="{encoder}",
            subcategory="{sae}",
            labels={"figure": "training curves"},
            caption="../report/training_curves.rst",
        ),
        recovery=report(
            "results/report/figures/{encoder}/{sae}/recovery_curves.png",
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
                Path("results"),
                selected_saes(),
                LABELLER,
                sae_names,
                slice_stores(),
                frozenset(IMPORTED_SAES),
            )
            | universality_inputs(
                Path("results"),
                selected_saes(),
                LABELLER,
                bool(config.get("sae", {}).get("stability_seeds")),
            )
        ),
    output:
        html=report(
            "results/report/index.html",
            category="Feature atlas",
            caption="../report/atlas.rst",
        ),
    log:
        "logs/report.log",
    benchmark:
        "results/timings/report.tsv"
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
