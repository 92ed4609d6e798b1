"""Study-scale simulation: embedding shards -> streamed SAE training -> codes, with time and
peak memory per stage, and the study grid's cost projected from the measured rates.

Synthetic embeddings with planted sparse structure (unit-norm rows, each a weighted sum of a few
of `--atoms` directions with Zipf-like frequencies, plus noise) are written as embedding shards
the way the embed stage writes them (`write_embeddings`, row ids aligned with a synthetic slice
index and carrying its hash). Stages, each in a fresh process so its peak RSS is its own:
- shards: generate and write all rows;
- train streamed: one SAE trained from the shards with a memory budget that forces streaming;
- train in memory: the same SAE, seed and rows with the split in memory (for the ratio);
- encode: JumpReLU threshold calibrated on val rows, then `encode_codes` over all rows.
Printed per stage: wall seconds, rows/s and peak RSS; then streamed / in-memory throughput and
the study grid (84 configs x 100 epochs) in CPU core-hours at the measured streamed rate.

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

STUDY_CONFIGS = 84
STUDY_EPOCHS = 100
STUDY_ROWS, STUDY_VAL_ROWS = 1_000_000, 140_000
SHARD_ROWS = 50_000
GOALS = {"streamed / in-memory": 0.9, "peak RSS GB": 8.0}


def planted_rows(atoms: np.ndarray, n: int, active: int, rng: np.random.Generator) -> np.ndarray:
    """n unit-norm rows, each a weighted sum of `active` atoms drawn with Zipf-like frequency."""
    frequency = 1.0 / np.arange(1, atoms.shape[0] + 1) ** 0.8
    which = rng.choice(atoms.shape[0], size=(n, active), p=frequency / frequency.sum())
    weights = rng.uniform(0.5, 1.5, size=(n, active, 1)).astype(np.float32)
    rows = 0.05 * rng.standard_normal((n, atoms.shape[1]), dtype=np.float32)
    for slot in range(active):  # one atom per row at a time: memory stays at (n, dim)
        rows += atoms[which[:, slot]] * weights[:, slot]
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write_shards(folder: Path, args: argparse.Namespace) -> dict:
    from sail_core.columns import index_hash
    from sail_core.embed.store import write_embeddings
    from sail_core.mine.synthetic import synthetic_index

    digest = index_hash(synthetic_index(args.rows, args.scans, seed=args.seed))
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
    n_val = min(args.val_rows, args.rows // 5)
    return {"train": np.arange(args.rows - n_val), "val": np.arange(args.rows - n_val, args.rows)}


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
    return {"rows": args.rows}


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
    ratio = streamed["rows/s"] / memory["rows/s"]
    print(f"streamed / in-memory throughput: {ratio:.2f} (goal >= {GOALS['streamed / in-memory']})")
    epoch_rows = STUDY_ROWS - STUDY_VAL_ROWS
    hours = STUDY_CONFIGS * STUDY_EPOCHS * epoch_rows / streamed["rows/s"] / 3600
    print(
        f"study grid ({STUDY_CONFIGS} configs x {STUDY_EPOCHS} epochs of {epoch_rows:,.0f} rows) "
        f"at {streamed['rows/s']:,.0f} rows/s on {args.threads} threads: "
        f"{hours * args.threads:,.0f} CPU core-hours ({hours:,.0f} h wall)"
    )


if __name__ == "__main__":
    main()
