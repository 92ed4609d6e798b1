import logging
from pathlib import Path

import polars as pl

from sail_core.data.index import read_index
from sail_core.io import write_json, write_parquet
from sail_core.logs import configure
from sail_core.sae import load_sae
from sail_core.universality.matching import read_split_codes, split_row_ids
from sail_core.universality.stability import (
    SaeRun,
    TwinThresholds,
    seed_stability,
    stability_summary,
)

configure(snakemake.log[0])
log = logging.getLogger("stability")
encoder, sae = snakemake.wildcards.encoder, snakemake.wildcards.sae
params = snakemake.params
seeds = list(params.seeds)
if len(snakemake.input.models) != len(seeds) + 1:
    raise ValueError(f"{encoder} {sae}: expected the main run and {len(seeds)} seed runs")

index, digest = read_index(snakemake.input.index)
rows = split_row_ids(index, list(params.splits))
log.info("%s %s: matching %d seed runs on %d %s rows", encoder, sae, len(seeds), rows.size,
         "+".join(params.splits))  # fmt: skip


def run(model_path, codes_path):
    model = load_sae(Path(model_path).parent)
    codes = read_split_codes(codes_path, rows, digest, params.chunk_rows)
    return SaeRun(model.W_dec.detach().cpu().numpy(), codes), list(model.spec.widths)


main, widths = run(snakemake.input.models[0], snakemake.input.codes[0])
seed_runs = {
    seed: run(model, codes)[0]
    for seed, model, codes in zip(
        seeds, snakemake.input.models[1:], snakemake.input.codes[1:], strict=True
    )
}
thresholds = TwinThresholds(params.min_cosine, params.min_correlation)
twins, features = seed_stability(main, seed_runs, widths, thresholds, params.chunk_rows)
labelled = pl.read_parquet(snakemake.input.labels)["feature"].to_list()
summary = stability_summary(features, labelled, widths)
log.info("stability of %s %s:\n%s", encoder, sae, summary)

metadata = {"encoder": encoder, "sae": sae, "splits": ",".join(params.splits),
            "seeds": ",".join(map(str, seeds)), "main_seed": str(params.main_seed)}  # fmt: skip
write_parquet(twins, snakemake.output.twins, metadata)
write_parquet(features, snakemake.output.features, metadata)
write_json(
    snakemake.output.summary,
    {
        "encoder": encoder,
        "sae": sae,
        "main_seed": params.main_seed,
        "seeds": seeds,
        "splits": list(params.splits),
        "n_rows": int(rows.size),
        "min_cosine": params.min_cosine,
        "min_correlation": params.min_correlation,
        "n_labelled": len(labelled),
        "table": summary.to_dicts(),
    },
)
