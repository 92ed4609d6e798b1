"""Cost of feature mining, linear probes and performance recovery on synthetic codes.

Builds a synthetic slice index (CT and MRI scans, held-out test institutes, organ bands) with
SAE codes of `--latents` features and about `--k` active per row, four of them planted on
organs, plus dense embeddings that mix the codes. Then times, each with its peak traced memory:
- mining: statistics, top slices per scan, diverse samples, enrichment (no PNG panels);
- probes: dense and sparse, one binary model per target, C tuned on val over the grid;
- recovery: top-|coef|, PCA and random baselines at every N.
Prints the seconds per probe fit beside the study's 130-370 s per (saga) probe fit.

    .venv/bin/python benchmarks/evaluation.py            # 100k rows x 8192 latents, k = 40, d = 1536
    .venv/bin/python benchmarks/evaluation.py --quick    # 20k rows x 2048 latents
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import polars as pl

from sail_core.columns import index_hash
from sail_core.evaluate.linear import FitSettings
from sail_core.evaluate.probes import ProbeSettings, read_probe_results, run_probes
from sail_core.evaluate.recovery import METHODS, RecoverySettings, run_recovery
from sail_core.mine.mining import MiningSettings, mine_features
from sail_core.mine.synthetic import planted_codes, synthetic_index
from sail_core.sae.codes import CodeStore, write_code_store
from sail_core.workflow_config import load_table

PLANTED = {"liver": 11, "brain": 22, "heart": 33, "kidney_left": 44}
REPO = Path(__file__).parents[1]
GROUPS = {
    group: spec
    for group, spec in load_table(
        REPO / "config" / "probe_targets.yaml", REPO / "schemas" / "probe_targets.schema.yaml"
    ).items()
    if group
    in (
        "modality",
        "sex",
        "orientation",
        "organs_abdominal",
        "organs_head_and_neck",
        "organs_thoracic",
    )
}
STUDY_SECONDS_PER_FIT = (130, 370)


def timed(label: str, work):
    """Run `work`, print its wall and CPU seconds (the machine may be shared) and peak memory."""
    tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = work()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{label:<10} {seconds:8.1f} s wall {cpu:8.1f} s CPU   "
        f"peak traced memory {peak / 2**20:8.1f} MiB"
    )
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--latents", type=int, default=8192)
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--scans", type=int, default=600)
    parser.add_argument("--dense-dim", type=int, default=1536)
    parser.add_argument("--quick", action="store_true", help="20k rows x 2048 latents")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.latents, args.scans = 20_000, 2048, 200

    index = synthetic_index(args.rows, args.scans, seed=0)
    codes = planted_codes(index, args.latents, args.k, PLANTED, seed=0)
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(args.latents, args.dense_dim)).astype(np.float32)
    dense = np.asarray(codes @ mixing) + rng.normal(scale=0.1, size=(index.height, args.dense_dim))
    dense = dense.astype(np.float32)
    print(
        f"{index.height} rows ({dict(index.group_by('split').len().iter_rows())}), "
        f"{args.latents} latents, {codes.nnz / index.height:.1f} active per row, "
        f"dense dim {args.dense_dim}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        digest = index_hash(index)
        write_code_store(tmp / "codes.zarr", codes, {"index_hash": digest})
        store = CodeStore(tmp / "codes.zarr", index_hash=digest)
        mining = MiningSettings(
            ["train", "val", "test"],
            n_top=10,
            diverse_pool=20,
            n_diverse=5,
            min_count=2,
            chunk_rows=16384,
        )
        fit = FitSettings(
            c_grid=(0.01, 0.1, 1.0, 10.0),
            default_c=1.0,
            penalties={"dense": "l2", "sparse": "l1"},
            max_iter=1000,
            seed=0,
        )
        probe = ProbeSettings(
            fit,
            max_train_rows=10_000,
            min_class_rows=5,
            n_top_coefficients=100,
            dense_l2_normalise=True,
        )
        recovery = RecoverySettings(
            n_values=(1, 2, 3, 5, 10, 20, 30, 50, 75, 100),
            fractions=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
            min_dense_auc=0.6,
            report_split="val",
            methods=METHODS,
        )
        load_dense = lambda rows: dense[rows]  # noqa: E731
        probe_dir = tmp / "probes"
        probe_dir.mkdir()

        _, mine_seconds = timed("mining", lambda: mine_features(index, store, mining))
        _, probe_seconds = timed(
            "probes",
            lambda: run_probes(index, store, load_dense, GROUPS, probe, probe_dir),
        )
        _, metrics, _ = read_probe_results(probe_dir)
        result, recovery_seconds = timed(
            "recovery",
            lambda: run_recovery(index, store, load_dense, probe_dir, GROUPS, fit, True, recovery),
        )

    print(f"total      {mine_seconds + probe_seconds + recovery_seconds:8.1f} s")
    print(f"peak RSS   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:8.1f} MiB")
    fits = metrics.filter(pl.col("split") == "train")
    for feature_type, part in fits.group_by("feature_type", maintain_order=True):
        per_fit = part["fit_seconds"] / len(fit.c_grid)
        print(
            f"{feature_type[0]:<6} probe fit ({part.height} targets, 10k training rows): "
            f"{per_fit.mean():.2f} s mean, {per_fit.max():.2f} s max per fit of one C; "
            f"the study: {STUDY_SECONDS_PER_FIT[0]}-{STUDY_SECONDS_PER_FIT[1]} s per fit"
        )
    refits = result.curves.filter(pl.col("split") == "val").height
    print(
        f"recovery: {refits} refits x {len(fit.c_grid)} C, "
        f"{recovery_seconds / max(refits, 1):.2f} s per tuned refit"
    )
    val = result.summary.filter(
        (pl.col("split") == "val") & pl.col("n_features").is_in([1, 10, 100])
    ).select("method", "n_features", "n_targets", "ratio_of_means", "chance_corrected")
    print(val)


if __name__ == "__main__":
    main()
