import os

from sail_core.config import validate_config
from sail_core.data.dataset import discover_scan_keys

validate_config(config, workflow.source_path("../schemas/config.schema.yaml"), "config.yaml")

# jobs (also inside conda envs and on cluster nodes) import sail_core from this workflow's folder
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)


wildcard_constraints:
    modality="ct|mri",
    image_id=r"[^/]+",
    shard=r"\d+",


DATASET_ROOTS = {
    "ct": config["dataset"]["ct_root"],
    "mri": config["dataset"]["mri_root"],
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
        raise ValueError(
            f"no scans found under {DATASET_ROOTS['ct']} or {DATASET_ROOTS['mri']}"
        )
    return keys


SCAN_KEYS = scan_keys()


def dataset_meta_files():
    return [f"{root}/meta.csv" for root in DATASET_ROOTS.values()]


def slice_tables():
    return [f"results/slices/{m}/{i}.parquet" for m, i in SCAN_KEYS]


def slice_stores():
    return [f"results/slices/{m}/{i}.zarr" for m, i in SCAN_KEYS]


def all_targets():
    return [
        "results/slices/index.parquet",
        "results/meta/split_summary.tsv",
        "results/meta/quarantine.parquet",
    ]
