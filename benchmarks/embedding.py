"""Embedding benchmark on CPU, for the demo's EfficientNet-Lite0 encoder.

The slices are real CT: the head CT shipped with totalsegmentator, cut into axial, coronal and
sagittal slices, windowed and resized to the demo's 64x64, written as a slice store in the
pipeline's layout. Printed:
- slices/s of the data path of a job (store reads through the DataLoader, preprocessing,
  forward) against slices/s of the bare forward on the same tensors already in memory, and
  their ratio (target >= 0.9), for 0 and 1 DataLoader workers; both are timed batch by batch
  in one loop, as the machine's load from other work changes over minutes. Then slices/s of a
  whole `embed_shard` job, worker start-up and Zarr write included;
- bare-forward slices/s in fp32 and in bf16 autocast, and the cosine between the bf16 and the
  fp32 embedding of each slice, for EfficientNet and the demo's random DINOv3.

    .venv/bin/python benchmarks/embedding.py               # the 386 slices with anatomy
    .venv/bin/python benchmarks/embedding.py --slices 192  # quicker
"""

from __future__ import annotations

import argparse
import importlib.resources
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
import zarr

from sail_core.data.index import write_index
from sail_core.embed.dataset import shard_loader
from sail_core.embed.encoder import Encoder
from sail_core.embed.registry import build_encoder
from sail_core.embed.run import embed_shard
from sail_core.embed.store import load_embeddings

EFFICIENTNET = {"kind": "efficientnet_lite0", "dim": 1280, "image_size": 224, "batch_size": 32}
RANDOM_DINOV3 = {
    "kind": "random_init", "dim": 64, "image_size": 224, "seed": 42, "batch_size": 64,
    "architecture": {"model_type": "dinov3_vit", "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "patch_size": 16,
                     "num_register_tokens": 4, "image_size": 224},
}  # fmt: skip


def head_ct_slices(size: int) -> dict[str, np.ndarray]:
    """uint8 (n, size, size) slices per orientation of the real head CT, window [-1000, 1000];
    uniform slices are left out, as the pipeline stores no slice without anatomy."""
    path = importlib.resources.files("totalsegmentator") / "resources" / "ct_brain_atlas_1mm.nii.gz"
    volume = torch.from_numpy(np.asarray(nib.load(str(path)).dataobj, dtype=np.float32))
    grey = ((volume.clamp(-1000, 1000) + 1000) / 2000 * 255).round()
    slices = {}
    for axis, orientation in ((0, "sagittal"), (1, "coronal"), (2, "axial")):
        stack = grey.movedim(axis, 0).unsqueeze(1)
        resized = F.interpolate(stack, size=(size, size), mode="bilinear", antialias=True)
        stack = resized[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
        slices[orientation] = stack[stack.reshape(len(stack), -1).std(axis=1) > 1]
    return slices


def write_slice_store(root: Path, slices: dict[str, np.ndarray]) -> tuple[pl.DataFrame, str]:
    """One scan, ct/s0000, in the pipeline's layout; returns its index rows and index hash."""
    group = zarr.open_group(root / "ct" / "s0000.zarr", mode="w")
    rows = []
    for orientation, stack in slices.items():
        group.create_array(orientation, data=stack, chunks=(1, *stack.shape[1:]))
        rows += [("ct", "s0000", orientation, k, k) for k in range(len(stack))]
    index = (
        pl.DataFrame(
            rows,
            schema={
                "modality": pl.Utf8,
                "image_id": pl.Utf8,
                "orientation": pl.Utf8,
                "index": pl.Int32,
                "array_pos": pl.Int32,
            },
            orient="row",
        )  # fmt: skip
        .sort("modality", "image_id", "orientation", "index")
        .with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64), pl.lit("train").alias("split"))
    )
    return index, write_index(index, root / "index.parquet")


def data_path_against_forward(encoder: Encoder, rows, root: Path, batch: int, workers: int):
    """slices/s of the data path (DataLoader read + preprocessing + forward) and of the bare
    forward on the same preprocessed tensors right after it, batch by batch, so that both see
    the same machine load. The first batch (worker start-up) is not timed."""
    loader = iter(shard_loader(rows, root, batch, workers, pin_memory=False))
    encoder.encode(next(loader)[1])
    full_seconds = bare_seconds = 0.0
    slices_done = 0
    for _ in range(len(rows) // batch - 1):
        start = time.perf_counter()
        _, slices = next(loader)
        encoder.encode(slices).cpu()
        full_seconds += time.perf_counter() - start
        pixels = encoder.preprocessing(slices)
        start = time.perf_counter()
        encoder.embed_pixels(pixels).cpu()
        bare_seconds += time.perf_counter() - start
        slices_done += len(slices)
    return slices_done / full_seconds, slices_done / bare_seconds


def whole_job(encoder: Encoder, rows, index_hash, root: Path, batch: int, workers: int):
    """slices/s of one `embed_shard` job end to end (worker start-up and write included)."""
    output = root / f"shard-workers-{workers}.zarr"
    start = time.perf_counter()
    embed_shard(encoder, rows, root, output, shard=0, index_hash=index_hash, batch_size=batch,
                num_workers=workers)  # fmt: skip
    return rows.height / (time.perf_counter() - start), load_embeddings([output])


def cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a.double(), b.double(), dim=1)


def measure_data_path(encoder: Encoder, rows, index_hash, root: Path, slices) -> None:
    batch = EFFICIENTNET["batch_size"]
    print(f"\nefficientnet ({encoder.precision}), batch {batch}:")
    expected = encoder.encode(slices).numpy()
    for workers in (0, 1):
        full, bare = data_path_against_forward(encoder, rows, root, batch, workers)
        job, written = whole_job(encoder, rows, index_hash, root, batch, workers)
        assert np.array_equal(written, expected), "the job wrote other embeddings"
        print(f"  {workers} DataLoader workers: data path {full:.1f} slices/s, bare forward "
              f"{bare:.1f} slices/s, ratio {full / bare:.3f}; whole job {job:.1f} slices/s")  # fmt: skip


def measure_precisions(slices: torch.Tensor) -> None:
    """fp32 and bf16 forward passes alternate batch by batch, so both see the same load."""
    print("\nbf16 autocast against fp32 (bare forward):")
    cpu = torch.device("cpu")
    for name, spec in (("efficientnet", EFFICIENTNET), ("dinov3_random", RANDOM_DINOV3)):
        encoders = {p: build_encoder(name, {**spec, "precision": p}, cpu) for p in ("fp32", "bf16")}
        pixels = encoders["fp32"].preprocessing(slices).split(spec["batch_size"])
        seconds = {precision: 0.0 for precision in encoders}
        embeddings = {precision: [] for precision in encoders}
        for encoder in encoders.values():
            encoder.embed_pixels(pixels[0])
        for batch in pixels:
            for precision, encoder in encoders.items():
                start = time.perf_counter()
                embeddings[precision].append(encoder.embed_pixels(batch))
                seconds[precision] += time.perf_counter() - start
        rates = {precision: len(slices) / seconds[precision] for precision in encoders}
        cos = cosines(torch.cat(embeddings["bf16"]), torch.cat(embeddings["fp32"]))
        print(f"  {name}: fp32 {rates['fp32']:.1f} slices/s, bf16 {rates['bf16']:.1f} slices/s "
              f"({rates['bf16'] / rates['fp32']:.2f}x); cosine(bf16, fp32) mean {cos.mean():.4f}, "
              f"1st percentile {cos.quantile(0.01):.4f}, min {cos.min():.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=450, help="slices per measurement (at most)")
    parser.add_argument("--size", type=int, default=64, help="stored slice size (the demo's 64)")
    args = parser.parse_args()

    per_orientation = -(-args.slices // 3)
    slices = {}
    for orientation, stack in head_ct_slices(args.size).items():
        start = max(0, (len(stack) - per_orientation) // 2)
        slices[orientation] = stack[start : start + per_orientation]
    in_index_order = torch.from_numpy(np.concatenate([slices[o] for o in sorted(slices)]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows, index_hash = write_slice_store(root, slices)
        print(f"{rows.height} real CT slices of {args.size}x{args.size}, torch threads "
              f"{torch.get_num_threads()}")  # fmt: skip
        encoder = build_encoder("efficientnet", EFFICIENTNET, torch.device("cpu"))
        measure_data_path(encoder, rows, index_hash, root, in_index_order)
    measure_precisions(in_index_order)


if __name__ == "__main__":
    main()
