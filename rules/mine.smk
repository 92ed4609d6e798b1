rule mine_features:
    input:
        index=RESULTS.slice_index,
        codes=RESULTS.codes,
        slices=slice_stores(),
    output:
        stats=RESULTS.feature_stats,
        top_slices=RESULTS.top_slices,
        enrichment=RESULTS.enrichment,
        panels=directory(RESULTS.panels),
    log:
        "logs/mine_features/{encoder}/{sae}.log",
    benchmark:
        RESULTS.job_timing("mine_features/{encoder}/{sae}")
    conda:
        "../envs/sail.yaml"
    threads: 1
    params:
        splits=config["mining"]["splits"],
        n_top=config["mining"]["n_top"],
        diverse_pool=config["mining"]["diverse_pool"],
        n_diverse=config["mining"]["n_diverse"],
        enrichment_min_count=config["mining"]["enrichment_min_count"],
        panel_tile_px=config["mining"]["panel_tile_px"],
        panel_columns=config["mining"]["panel_columns"],
    script:
        "../workflow_scripts/mine_features.py"
