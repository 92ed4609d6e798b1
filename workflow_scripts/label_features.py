import logging

import polars as pl

from sail_core.data.index import read_index
from sail_core.data.store import SliceReader
from sail_core.io import write_json, write_parquet
from sail_core.label.run import (
    SelectionSettings,
    choose_features,
    footer_metadata,
    label_selection,
    make_labeller,
)
from sail_core.layout import Layout
from sail_core.logs import configure
from sail_core.operational_settings import with_operational

configure(snakemake.log[0])
log = logging.getLogger("label_features")

params = snakemake.params
labeller_name = snakemake.wildcards.labeller
anthropic = with_operational(params.anthropic, snakemake.config, "labelling.anthropic")
index, index_hash = read_index(snakemake.input.index)
monosemanticity = (
    pl.read_parquet(snakemake.input.monosemanticity) if snakemake.input.monosemanticity else None
)
settings = SelectionSettings(seed=params.seed, **params.selection)
selection, picks = choose_features(
    pl.read_parquet(snakemake.input.stats),
    pl.read_parquet(snakemake.input.top_slices),
    pl.read_parquet(snakemake.input.enrichment),
    monosemanticity,
    settings,
)
labeller = make_labeller(labeller_name, params.offline, anthropic, params.cache_dir)
labels, usage = label_selection(
    selection,
    picks,
    index,
    labeller,
    SliceReader(Layout.of_index(snakemake.input.index).slices).read,
    params.image_size,
)
provenance = {
    "encoder": snakemake.wildcards.encoder,
    "sae": snakemake.wildcards.sae,
    "labeller": labeller_name,
    "seed": params.seed,
    "index_hash": index_hash,
    "selection": params.selection,
}
if params.anthropic:
    provenance |= {
        k: params.anthropic[k] for k in ("model", "temperature", "max_tokens", "prompt_version")
    }
write_parquet(labels, snakemake.output.labels, metadata=footer_metadata(provenance))
write_json(snakemake.output.usage, usage | {"provenance": provenance})
failed = int((labels["status"] != "ok").sum())
log.info("%d features labelled (%d without a usable answer)", labels.height, failed)
