"""Study-scale simulation: embedding shards -> streamed SAE training -> codes, with time and
peak memory per stage, and the study grid's cost projected from the measured rates.

Synthetic embeddings with planted sparse structure (unit-norm rows, each a weighted sum of a few
of `--atoms` directions with Zipf-like frequencies, plus noise) are written as embedding shards
the way the embed stage writes them (`write_embeddings`, row ids aligned with a synthetic slice
index and carrying its hash). Stages, each in a fresh process so its peak RSS is its own:
- shards: generate and write all rows;
- train streamed: one SAE trained from the shards with a memory budget that forces streaming;
- train in memory: the same SAE, seed and rows with the split in memory (for the ratio);
- encode: JumpReLU threshold calibrated on val rows, then `encode_codes` over all rows, and the
  val rows' codes as their own store (aligned with the val rows' slice index);
- one config's evaluation on the val rows, each part with the library function its evaluation
  rule calls: mining, probes (dense and sparse), recovery, monosemanticity, fingerprint. The
  val rows' index keeps the synthetic split labels, so the probes train on its train part.
  The planted structure is not tied to the index's labels: the scores mean nothing, the costs
  are the point.
Printed per stage: wall seconds, rows/s and peak RSS; then streamed / in-memory throughput, the
evaluation's total, and the study grid (84 configs x 100 epochs) in CPU core-hours at the
measured streamed rate and in GPU-hours at `--gpu-samples-per-s` (a rate measured on a GPU with
benchmarks/sae_train.py), or a line saying that no GPU rate was measured.

    .venv/bin/python benchmarks/scale.py                  # 1,000,000 rows x 1024 dims
    .venv/bin/python benchmarks/scale.py --rows 40000     # about a minute
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from sail_core.workflow_config import load_table

REPO = Path(__file__).parents[1]
STUDY_CONFIGS = 84
STUDY_EPOCHS = 100
STUDY_ROWS, STUDY_VAL_ROWS = 1_000_000, 140_000
SHARD_ROWS = 50_000
INDEX_FILE = "index.parquet"
GOALS = {"streamed / in-memory": 0.9, "peak RSS GB": 8.0, "evaluation minutes": 10.0}
EVALUATION_STAGES = ("mining", "probes", "recovery", "monosemanticity", "fingerprint")
# a slice of the study's probe targets: binary, multiclass and organ-presence groups
PROBE_GROUPS = {
    group: spec
    for group, spec in load_table(
        REPO / "config" / "probe_targets.yaml", REPO / "schemas" / "probe_targets.schema.yaml"
    ).items()
    if group in ("modality", "sex", "orientation", "organs_abdominal", "organs_thoracic")
}


def planted_rows(atoms: np.ndarray, n: int, active: int, rng: np.random.Generator) -> np.ndarray:
    """n unit-norm rows, each a weighted sum of `active` atoms drawn with Zipf-like frequency."""
    frequency = 1.0 / np.arange(1, atoms.shape[0] + 1) ** 0.8
    which = rng.choice(atoms.shape[0], size=(n, active), p=frequency / frequency.sum())
    weights = rng.uniform(0.5, 1.5, size=(n, active, 1)).astype(np.float32)
    rows = 0.05 * rng.standard_normal((n, atoms.shape[1]), dtype=np.float32)
    for slot in range(active):  # one atom per row at a time: memory stays at (n, dim)
        rows += atoms[which[:, slot]] * weights[:, slot]
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _val_start(args: argparse.Namespace) -> int:
    return args.rows - min(args.val_rows, args.rows // 5)


def val_index(folder: Path, args: argparse.Namespace):
    """The val rows' slice index, renumbered from 0 (row_id = position among the val rows)."""
    import polars as pl

    index = pl.read_parquet(folder / INDEX_FILE)[_val_start(args) :]
    return index.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_id"))


def scans_in_random_order(index, seed: int):
    """The index with its scans (each kept contiguous) in a seeded random order: the synthetic
    index is sorted by modality, so a block of its last rows would hold one modality only."""
    import polars as pl

    scan = ["modality", "image_id"]
    ranks = index.select(scan).unique().sort(scan)
    ranks = ranks.sample(fraction=1.0, shuffle=True, seed=seed).with_row_index("scan_rank")
    shuffled = index.join(ranks, on=scan).sort("scan_rank", "row_id").drop("scan_rank")
    return shuffled.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_id"))


def write_shards(folder: Path, args: argparse.Namespace) -> dict:
    from sail_core.columns import index_hash
    from sail_core.embed.store import write_embeddings
    from sail_core.mine.synthetic import synthetic_index

    index = scans_in_random_order(synthetic_index(args.rows, args.scans, seed=args.seed), args.seed)
    index.write_parquet(folder / INDEX_FILE)
    digest = index_hash(index)
    rng = np.random.default_rng(args.seed)
    atoms = rng.standard_normal((args.atoms, args.dim), dtype=np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    paths = []
    for shard, start in enumerate(range(0, args.rows, SHARD_ROWS)):
        stop = min(start + SHARD_ROWS, args.rows)
        rows = planted_rows(atoms, stop - start, args.active, rng)
        path = folder / f"shard_{shard:04d}.zarr"
        attrs = {"encoder": "synthetic", "dim": args.dim, "index_hash": digest, "shard": shard}
        write_embeddings(path, rows, np.arange(start, stop), attrs)
        paths.append(str(path))
    return {"paths": paths, "rows": args.rows}


def _splits(args: argparse.Namespace) -> dict[str, np.ndarray]:
    start = _val_start(args)
    return {"train": np.arange(start), "val": np.arange(start, args.rows)}


def train(folder: Path, args: argparse.Namespace, budget_mb: int, save: bool) -> dict:
    import torch

    from sail_core.embed.store import open_embeddings
    from sail_core.sae.config import TrainConfig, parse_sae_name
    from sail_core.sae.data import StreamedRows, train_source
    from sail_core.sae.initialise import init_decoder_bias
    from sail_core.sae.model import MatryoshkaSAE
    from sail_core.sae.trainer import Trainer

    torch.set_num_threads(args.threads)
    view = open_embeddings(sorted(str(p) for p in folder.glob("shard_*.zarr")))
    rows = _splits(args)["train"]
    config = TrainConfig(
        epochs=args.epochs, memory_budget_mb=budget_mb, seed=args.seed, warmup_steps=100
    )
    model = MatryoshkaSAE(parse_sae_name(args.name), args.dim, input_norm="l2")
    model.reset_parameters(torch.Generator().manual_seed(args.seed))
    model.bf16_compute = args.precision == "bf16"
    started = time.perf_counter()
    source = train_source(view, rows, budget_mb, model.normalise, torch.device("cpu"))
    loaded = time.perf_counter() - started
    init_decoder_bias(model, source.take(torch.arange(min(source.n_rows, 16384))), "mean")
    started = time.perf_counter()
    Trainer(model, source, None, config, folder / f"checkpoints_{budget_mb}", "scale").run()
    seconds = time.perf_counter() - started
    if save:
        torch.save(model.state_dict(), folder / "model.pt")
    return {
        "streamed": isinstance(source, StreamedRows),
        "load seconds": loaded,
        "rows/s": rows.size * args.epochs / seconds,
        "rows": rows.size * args.epochs,
    }


def encode(folder: Path, args: argparse.Namespace) -> dict:
    import torch

    from sail_core.embed.store import open_embeddings
    from sail_core.sae.calibrate import calibrate_threshold
    from sail_core.sae.codes import encode_codes
    from sail_core.sae.config import parse_sae_name
    from sail_core.sae.model import MatryoshkaSAE

    torch.set_num_threads(args.threads)
    view = open_embeddings(sorted(str(p) for p in folder.glob("shard_*.zarr")))
    spec = parse_sae_name(args.name)
    model = MatryoshkaSAE(spec, args.dim, input_norm="l2")
    model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    val = _splits(args)["val"]
    chunks = (
        torch.from_numpy(np.asarray(view[start : start + 8192]))
        for start in range(val[0], val[-1] + 1, 8192)
    )
    model.threshold.fill_(calibrate_threshold(model, chunks, val.size, spec.k_inference))
    encode_codes(model, view, folder / "codes.zarr", chunk_rows=8192, attrs={}, source="scale")
    from sail_core.columns import index_hash

    val_attrs = {"index_hash": index_hash(val_index(folder, args))}
    encode_codes(
        model,
        view[val[0] :],
        folder / "val_codes.zarr",
        chunk_rows=8192,
        attrs=val_attrs,
        source="scale val rows",
    )
    return {"rows": args.rows}


def evaluate(folder: Path, args: argparse.Namespace, part: str) -> dict:
    """One part of one config's evaluation on the val rows (settings as config.yaml's)."""
    from sail_core.columns import index_hash
    from sail_core.embed.store import open_embeddings
    from sail_core.evaluate.fingerprint import FingerprintSettings, run_fingerprint
    from sail_core.evaluate.linear import FitSettings
    from sail_core.evaluate.monosemanticity import MonosemanticitySettings, run_monosemanticity
    from sail_core.evaluate.probes import ProbeSettings, run_probes
    from sail_core.evaluate.recovery import METHODS, RecoverySettings, run_recovery
    from sail_core.mine.mining import MiningSettings, mine_features
    from sail_core.sae.codes import CodeStore

    index = val_index(folder, args)
    store = CodeStore(folder / "val_codes.zarr", index_hash=index_hash(index))
    view = open_embeddings(sorted(str(p) for p in folder.glob("shard_*.zarr")))
    start = _val_start(args)

    def load_dense(rows: np.ndarray) -> np.ndarray:
        return view[start + np.asarray(rows, dtype=np.int64)].compute()

    splits = ["train", "val", "test"]
    fit = FitSettings(
        c_grid=(0.01, 0.1, 1.0, 10.0),
        default_c=1.0,
        penalties={"dense": "l2", "sparse": "l1"},
        max_iter=1000,
        seed=args.seed,
    )
    probe = ProbeSettings(
        fit,
        max_train_rows=10_000,
        min_class_rows=5,
        n_top_coefficients=100,
        dense_l2_normalise=True,
    )
    probe_dir = folder / "probes"
    if part == "mining":
        mine_features(index, store, MiningSettings(splits, 10, 20, 5, 2, chunk_rows=16384))
    elif part == "probes":
        probe_dir.mkdir(exist_ok=True)
        run_probes(index, store, load_dense, PROBE_GROUPS, probe, probe_dir)
    elif part == "recovery":
        recovery = RecoverySettings(
            n_values=(1, 2, 3, 5, 10, 20, 30, 50, 75, 100),
            fractions=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
            min_dense_auc=0.0,  # every target gets its curves: the planted labels mean nothing
            report_split="val",
            methods=METHODS,
        )
        run_recovery(index, store, load_dense, probe_dir, PROBE_GROUPS, fit, True, recovery)
    elif part == "monosemanticity":
        settings = MonosemanticitySettings(splits, (10, 50), 100, 0.9, 16384, args.seed)
        run_monosemanticity(index, store, settings)
    else:
        settings = FingerprintSettings(
            ["val", "test"], 1000, (1, 2, 3, 5, 10, 20, 50, 100), 5, 5, args.seed
        )
        run_fingerprint(index, store, load_dense, settings)
    return {"rows": index.height}


def _child(stage, folder, args, extra, queue) -> None:
    started = time.perf_counter()
    try:
        result = stage(folder, args, *extra)
    except Exception as error:  # reported by the parent, which would otherwise wait forever
        queue.put({"error": f"{type(error).__name__}: {error}"})
        raise
    result["seconds"] = time.perf_counter() - started
    result["peak RSS GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    queue.put(result)


def run_stage(label: str, stage, folder: Path, args: argparse.Namespace, *extra) -> dict:
    """Run one stage in a fresh process; print and return its figures."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(stage, folder, args, extra, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result or process.exitcode:
        raise SystemExit(f"stage {label} failed: {result.get('error', process.exitcode)}")
    rate = result["rows"] / result["seconds"]
    shown = result.get("rows/s", rate)
    print(
        f"{label:18s} {result['seconds']:8.1f} s  {shown:10,.0f} rows/s  "
        f"peak RSS {result['peak RSS GB']:5.2f} GB",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=STUDY_ROWS)
    parser.add_argument("--val-rows", type=int, default=STUDY_VAL_ROWS)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--name", default="D128-512-2048-8192_K20-40-80-160")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--budget-mb", type=int, default=512, help="forces streaming")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--atoms", type=int, default=4096)
    parser.add_argument("--active", type=int, default=32)
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--gpu-samples-per-s",
        type=float,
        help="SAE training rate measured on a GPU (benchmarks/sae_train.py): adds GPU-hours",
    )
    args = parser.parse_args()
    n_train = args.rows - min(args.val_rows, args.rows // 5)
    in_memory_mb = n_train * args.dim * 4 // 2**20 + 1
    if in_memory_mb <= args.budget_mb:
        parser.error(f"--budget-mb {args.budget_mb} does not force streaming ({in_memory_mb} MiB)")
    print(
        f"{args.rows:,} rows x {args.dim} dims ({n_train:,} train), {args.name}, "
        f"{args.epochs} epoch(s), {args.threads} threads, {args.precision}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run_stage("shards", write_shards, folder, args)
        streamed = run_stage("train streamed", train, folder, args, args.budget_mb, True)
        memory = run_stage("train in memory", train, folder, args, in_memory_mb, False)
        run_stage("encode_codes", encode, folder, args)
        evaluation = [run_stage(part, evaluate, folder, args, part) for part in EVALUATION_STAGES]
    minutes = sum(stage["seconds"] for stage in evaluation) / 60
    print(
        f"one config's evaluation on {evaluation[0]['rows']:,} val rows: {minutes:.1f} min "
        f"(goal < {GOALS['evaluation minutes']:.0f} min on 2 cores)"
    )
    ratio = streamed["rows/s"] / memory["rows/s"]
    print(f"streamed / in-memory throughput: {ratio:.2f} (goal >= {GOALS['streamed / in-memory']})")
    epoch_rows = STUDY_ROWS - STUDY_VAL_ROWS
    hours = STUDY_CONFIGS * STUDY_EPOCHS * epoch_rows / streamed["rows/s"] / 3600
    print(
        f"study grid ({STUDY_CONFIGS} configs x {STUDY_EPOCHS} epochs of {epoch_rows:,.0f} rows) "
        f"at {streamed['rows/s']:,.0f} rows/s on {args.threads} threads: "
        f"{hours * args.threads:,.0f} CPU core-hours ({hours:,.0f} h wall)"
    )
    grid_samples = STUDY_CONFIGS * STUDY_EPOCHS * epoch_rows
    if args.gpu_samples_per_s:
        print(
            f"study grid on a GPU at {args.gpu_samples_per_s:,.0f} samples/s: "
            f"{grid_samples / args.gpu_samples_per_s / 3600:,.1f} GPU-hours"
        )
    else:
        print("study grid in GPU-hours: no GPU rate measured (pass --gpu-samples-per-s)")


if __name__ == "__main__":
    main()
