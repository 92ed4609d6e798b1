"""Embedding benchmark on one CUDA GPU: a randomly initialised DINOv3 of ViT-L/16 shape (the
study's encoder) at 224 and 1024 px in bf16, on a few thousand synthetic 256x256 slices.

Per input size it prints slices/s and peak GPU memory (torch.cuda.max_memory_allocated) of the
bare forward (preprocessed pixels already on the GPU), of the data path (Zarr reads by DataLoader
workers, pinned-memory copies, preprocessing on the GPU, forward) against the bare forward on
the same batches, and of a whole `embed_shard` job; then the cosine between bf16 and fp32
embeddings at 224 px. Exits with a message when no CUDA device is present.

    .venv/bin/python benchmarks/embedding_gpu.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from embedding import data_path_against_forward, whole_job, write_slice_store

from sail_core.embed.encoder import Encoder
from sail_core.embed.registry import build_encoder

VIT_L16 = {"model_type": "dinov3_vit", "hidden_size": 1024, "intermediate_size": 4096,
           "num_hidden_layers": 24, "num_attention_heads": 16, "patch_size": 16,
           "num_register_tokens": 4, "layerscale_value": 1e-5}  # fmt: skip
RUNS = ((224, 8192, 256), (1024, 2048, 32))  # image size, slices, batch size


def synthetic_slices(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random uint8 images (content does not change the speed)."""
    coarse = torch.rand((n, 1, 16, 16), generator=torch.Generator().manual_seed(seed))
    fine = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    return (fine[:, 0].clamp(0, 1) * 255).to(torch.uint8).numpy()


def spec(image_size: int, batch_size: int, precision: str, workers: int) -> dict:
    return {"kind": "random_init", "dim": 1024, "image_size": image_size, "seed": 0,
            "architecture": {**VIT_L16, "image_size": image_size}, "precision": precision,
            "batch_size": batch_size, "num_workers": workers}  # fmt: skip


class GpuTimer:
    """Wall time and peak GPU memory of the block it wraps."""

    def __enter__(self) -> GpuTimer:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start
        self.peak_gib = torch.cuda.max_memory_allocated() / 2**30


def bare_forward(
    encoder: Encoder, slices: np.ndarray, batch_size: int
) -> tuple[float, torch.Tensor]:
    on_gpu = torch.from_numpy(slices).to(encoder.device)
    pixels = [encoder.preprocessing(batch) for batch in on_gpu.split(batch_size)]
    encoder.embed_pixels(pixels[0])
    with GpuTimer() as timer:
        outputs = [encoder.embed_pixels(batch) for batch in pixels]
    rate = len(slices) / timer.seconds
    print(f"    bare forward: {rate:8.1f} slices/s, peak {timer.peak_gib:5.1f} GiB")
    return rate, torch.cat(outputs)


def benchmark_size(root, slices, rows, index_hash, image_size, n, batch_size, workers) -> None:
    print(f"\nViT-L/16 random DINOv3 at {image_size}x{image_size}, bf16, batch {batch_size}")
    encoder = build_encoder(
        "vitl", spec(image_size, batch_size, "bf16", workers), torch.device("cuda")
    )
    bare_forward(encoder, slices[:n], batch_size)
    with GpuTimer() as timer:
        full, bare = data_path_against_forward(encoder, rows.head(n), root, batch_size, workers)
    print(f"    data path:    {full:8.1f} slices/s against {bare:.1f} for the bare forward on "
          f"the same batches, ratio {full / bare:.3f}, peak {timer.peak_gib:5.1f} GiB")  # fmt: skip
    with GpuTimer() as timer:
        job, _ = whole_job(encoder, rows.head(n), index_hash, root, batch_size, workers)
    print(f"    whole job:    {job:8.1f} slices/s ({workers} workers, start-up and write "
          f"included), peak {timer.peak_gib:5.1f} GiB")  # fmt: skip


def compare_precisions(slices: np.ndarray) -> None:
    print("\nbf16 against fp32 at 224x224 (bare forward, 512 slices)")
    embeddings = {}
    for precision in ("fp32", "bf16"):
        encoder = build_encoder("vitl", spec(224, 128, precision, 0), torch.device("cuda"))
        print(f"  {precision}:")
        _, embeddings[precision] = bare_forward(encoder, slices[:512], 128)
    cosine = F.cosine_similarity(embeddings["bf16"].double(), embeddings["fp32"].double())
    print(f"  cosine(bf16, fp32): mean {cosine.mean():.5f}, min {cosine.min():.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (benchmarks/embedding.py runs on CPU)")
        sys.exit(0)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        slices = synthetic_slices(max(n for _, n, _ in RUNS), 256)
        rows, index_hash = write_slice_store(root, {"axial": slices})
        for image_size, n, batch_size in RUNS:
            benchmark_size(root, slices, rows, index_hash, image_size, n, batch_size, args.workers)
            torch.cuda.empty_cache()
        compare_precisions(slices)


if __name__ == "__main__":
    main()
