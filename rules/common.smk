import os

import polars as pl

from sail_core.columns import parse_scan_id, scan_id
from sail_core.data.dataset import discover_scan_keys, present_roots
from sail_core.data.phantom import phantom_plan
from sail_core.operational_settings import result_settings
from sail_core.workflow_config import load_table, validate_workflow_config
from sail_core.embed.plan import BIOMEDPARSE_KIND
from sail_core.embed.shards import assign_shards
from sail_core.evaluate.protocol import keys_selecting_on_test
from sail_core.layout import Layout
from sail_core.sae.config import split_seed_run

validate_workflow_config(
    config, workflow.source_path("../schemas/config.schema.yaml"), "config.yaml"
)


LABELLING = config["labelling"]
# the Anthropic API's result settings, passed only to jobs that call it
ANTHROPIC = result_settings(LABELLING["anthropic"], "labelling.anthropic")
RESULTS = Layout("results")


def table_of(path, default, schema):
    """The table file at `path` (or the workflow's own `default`) and its schema, validated now
    so that a bad entry stops the run before any DAG is built."""
    files = {
        "table": path or workflow.source_path(f"../config/{default}"),
        "schema": workflow.source_path(f"../schemas/{schema}"),
    }
    load_table(files["table"], files["schema"])
    return files


QUERIES = table_of(
    config["retrieval"]["queries_file"], "queries.yaml", "queries.schema.yaml"
)
PROBE_TARGETS = table_of(
    config["evaluation"]["probe"]["targets_file"],
    "probe_targets.yaml",
    "probe_targets.schema.yaml",
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
    sae=r"D[0-9-]+_K[0-9-]+(_S[0-9]+)?",


# A CT-only or MRI-only dataset sets the other root to null.
DATASET_ROOTS = {
    modality: str(root)
    for modality, root in present_roots(
        {"ct": config["dataset"]["ct_root"], "mri": config["dataset"]["mri_root"]}
    ).items()
}


def phantom_scan_keys():
    phantom = config["phantom"]
    plan = phantom_plan(DATASET_ROOTS, {"ct": phantom["n_ct"], "mri": phantom["n_mri"]})
    return [(m, f"s{i:04d}") for m, (_, n) in plan.items() for i in range(n)]


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
    return [str(RESULTS.slice_table.fill(modality=m, image_id=i)) for m, i in SCAN_KEYS]


def slice_stores():
    """The slice store of every scan (a quarantined scan's is empty): declared by each job that
    reads slices, as the index only names rows within them."""
    return [str(RESULTS.slice_store.fill(modality=m, image_id=i)) for m, i in SCAN_KEYS]


EMBEDDING_SHARDS = assign_shards(
    [scan_id(m, i) for m, i in SCAN_KEYS], config["embedding"]["shard_size"]
)


def encoders():
    return list(config["embedding"]["encoders"])


def encoder_spec(encoder):
    return config["embedding"]["encoders"][encoder]


def embed_env(wildcards):
    """BiomedParse pins old dependencies that clash with the other encoders', so its encoders
    run in an env of their own."""
    if encoder_spec(wildcards.encoder)["kind"] == BIOMEDPARSE_KIND:
        return "../envs/biomedparse.yaml"
    return "../envs/embed-gpu.yaml"


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
        modality, image_id = parse_scan_id(scan)
        for pattern in (RESULTS.slice_store, RESULTS.slice_table):
            paths.append(str(pattern.fill(modality=modality, image_id=image_id)))
    return paths


def embedding_shards(encoder):
    return expand(
        RESULTS.embedding_shard, encoder=encoder, shard=range(len(EMBEDDING_SHARDS))
    )


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
    return [RESULTS.slice_index, RESULTS.split_summary, RESULTS.quarantine]


def sae_targets():
    return [str(RESULTS.eval_summary.fill(encoder=e, sae=s)) for e, s in trained_saes()]


def analysis_targets(wildcards):
    labeller = config["labelling"]["labeller"]
    targets = []
    for encoder, sae in selected_saes():
        names = dict(encoder=encoder, sae=sae, labeller=labeller)
        targets += [
            str(RESULTS.label_evaluation.fill(**names)),
            str(RESULTS.retrieval_summary.fill(**names)),
        ]
    return targets


IMPORTED_SAES = sorted(
    (encoder, sae)
    for encoder, checkpoints in config["sae"]["imports"].items()
    for sae in checkpoints
)


def imported_checkpoint(wildcards):
    return config["sae"]["imports"][wildcards.encoder][wildcards.sae]


def sae_file(wildcards, name):
    """`name` in the folder of the (encoder, sae) of `wildcards`: the imported checkpoint's
    when sae.imports names one, else the trained SAE's."""
    imported = (wildcards.encoder, wildcards.sae) in IMPORTED_SAES
    folder = RESULTS.sae_file(name, imported)
    return str(folder.fill(encoder=wildcards.encoder, sae=wildcards.sae))


def sae_model(wildcards):
    return {
        "model": sae_file(wildcards, "model.safetensors"),
        "config": sae_file(wildcards, "config.json"),
    }


def sae_metrics(wildcards):
    return sae_file(wildcards, "metrics.json")


def sae_history(wildcards):
    """Training curves; an imported checkpoint has none."""
    if (wildcards.encoder, wildcards.sae) in IMPORTED_SAES:
        return []
    return sae_file(wildcards, "history.parquet")


def run_seed(wildcards):
    """Training seed of the run `wildcards.sae`: its `_S<seed>` suffix, else the config's."""
    seed = split_seed_run(wildcards.sae)[1]
    return config["sae"]["training"]["seed"] if seed is None else seed


def seed_runs(wildcards):
    """The main run of (encoder, sae) first, then its extra-seed runs."""
    seeds = config["sae"]["stability_seeds"]
    return [wildcards.sae] + [f"{wildcards.sae}_S{s}" for s in seeds]


def universality_targets(wildcards):
    """Stability of every selected SAE (when extra seeds are configured) and the alignment of
    every pair of encoders with a selected SAE (in name order, so adding one encoder adds only
    its own pairs)."""
    chosen = sorted(selected_saes())
    targets = []
    if config["sae"]["stability_seeds"]:
        targets += [
            str(RESULTS.stability_summary.fill(encoder=e, sae=s)) for e, s in chosen
        ]
    for i, (encoder_a, sae_a) in enumerate(chosen):
        for encoder_b, sae_b in chosen[i + 1 :]:
            if encoder_b != encoder_a:
                pair = dict(
                    encoder_a=encoder_a, sae_a=sae_a, encoder_b=encoder_b, sae_b=sae_b
                )
                targets.append(str(RESULTS.alignment_file("summary.json").fill(**pair)))
    return targets
