rule mine_features:
    input:
        index="results/slices/index.parquet",
        codes="results/codes/{encoder}/{sae}.zarr",
        slices=slice_stores(),
    output:
        stats="results/features/{encoder}/{sae}/stats.parquet",
        top_slices="results/features/{encoder}/{sae}/top_slices.parquet",
        enrichment="results/features/{encoder}/{sae}/enrichment.parquet",
        panels=directory("results/features/{encoder}/{sae}/panels"),
    log:
        "logs/mine_features/{encoder}/{sae}.log",
    benchmark:
        "results/timings/mine_features/{encoder}/{sae}.tsv"
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
