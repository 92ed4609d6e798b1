import os

import polars as pl

from sail_core.columns import scan_id
from sail_core.config import validate_config
from sail_core.data.dataset import discover_scan_keys, present_roots
from sail_core.embed.shards import assign_shards

validate_config(
    config, workflow.source_path("../schemas/config.schema.yaml"), "config.yaml"
)

# jobs (also inside conda envs and on cluster nodes) import sail_core from this workflow's folder
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (workflow.basedir, os.getenv("PYTHONPATH")) if p
    )
)


wildcard_constraints:
    modality="ct|mri",
    image_id=r"[^/]+",
    shard=r"\d+",
    encoder=r"[A-Za-z0-9_.-]+",
    sae=r"D[0-9-]+_K[0-9-]+",


# A CT-only or MRI-only dataset sets the other root to null.
DATASET_ROOTS = {
    modality: str(root)
    for modality, root in present_roots(
        {"ct": config["dataset"]["ct_root"], "mri": config["dataset"]["mri_root"]}
    ).items()
}


def phantom_scan_keys():
    phantom = config["phantom"]
    return [("ct", f"s{i:04d}") for i in range(phantom["n_ct"])] + [
        ("mri", f"s{i:04d}") for i in range(phantom["n_mri"])
    ]


def scan_keys():
    """Every (modality, image_id) of the run, known before any job runs."""
    if config["dataset"]["source"] == "phantom":
        return phantom_scan_keys()
    keys = discover_scan_keys(DATASET_ROOTS)
    if not keys:
        raise ValueError(f"no scans found under {', '.join(DATASET_ROOTS.values())}")
    return keys


SCAN_KEYS = scan_keys()


def dataset_meta_files():
    return [f"{root}/meta.csv" for root in DATASET_ROOTS.values()]


def slice_tables():
    return [f"results/slices/{m}/{i}.parquet" for m, i in SCAN_KEYS]


def slice_stores():
    return [f"results/slices/{m}/{i}.zarr" for m, i in SCAN_KEYS]


EMBEDDING_SHARDS = assign_shards(
    [scan_id(m, i) for m, i in SCAN_KEYS], config["embedding"]["shard_size"]
)


def encoders():
    return list(config["embedding"]["encoders"])


def encoder_spec(encoder):
    return config["embedding"]["encoders"][encoder]


def shard_scan_ids(wildcards):
    shard = int(wildcards.shard)
    if shard >= len(EMBEDDING_SHARDS):
        raise ValueError(
            f"shard {shard} does not exist: there are {len(EMBEDDING_SHARDS)} shards"
        )
    return EMBEDDING_SHARDS[shard]


def shard_slice_inputs(wildcards):
    """The slice stores and tables of the shard's scans."""
    paths = []
    for scan in shard_scan_ids(wildcards):
        paths += [f"results/slices/{scan}.zarr", f"results/slices/{scan}.parquet"]
    return paths


def embedding_shards(encoder):
    return [
        f"results/embeddings/{encoder}/shard-{k}.zarr"
        for k in range(len(EMBEDDING_SHARDS))
    ]


def sae_names(encoder):
    return config["sae"]["configs"].get(encoder, [])


def trained_saes():
    return [(e, sae) for e in encoders() for sae in sae_names(e)]


def selected_saes():
    """(encoder, sae) pairs chosen by the rank_configs checkpoint of every encoder with SAEs."""
    chosen = []
    for encoder in encoders():
        if not sae_names(encoder):
            continue
        ranking = checkpoints.rank_configs.get(encoder=encoder).output.ranking
        selected = pl.read_parquet(ranking).filter(pl.col("selected"))["sae"]
        chosen += [(encoder, sae) for sae in selected]
    return chosen


def data_targets():
    return [
        "results/slices/index.parquet",
        "results/meta/split_summary.tsv",
        "results/meta/quarantine.parquet",
    ]


def sae_targets():
    return [f"results/eval/{e}/{sae}/summary.json" for e, sae in trained_saes()]


def analysis_targets(wildcards):
    labeller = config["labelling"]["labeller"]
    targets = []
    for encoder, sae in selected_saes():
        targets += [
            f"results/labels/{encoder}/{sae}/{labeller}.evaluation.parquet",
            f"results/retrieval/{encoder}/{sae}/{labeller}/summary.json",
        ]
    return targets


def imported_checkpoint(wildcards):
    """The study checkpoint configured for (encoder, sae); an unbuildable path otherwise, so
    that Snakemake falls back to train_sae."""
    imports = config["sae"]["imports"].get(wildcards.encoder, {})
    return imports.get(
        wildcards.sae, f"not-imported/{wildcards.encoder}/{wildcards.sae}.ckpt"
    )
