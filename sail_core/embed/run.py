"""One embedding job: every slice of one shard through one encoder, into one Zarr shard."""

from __future__ import annotations

import logging
import math
import os
import time

import numpy as np
import polars as pl
import torch

from sail_core.data.index import read_index
from sail_core.embed.dataset import shard_loader
from sail_core.embed.encoder import Encoder, EncoderError
from sail_core.embed.registry import build_encoder, resolve_spec
from sail_core.embed.shards import shard_rows
from sail_core.embed.store import write_embeddings

logger = logging.getLogger(__name__)

PROGRESS_STEPS = 20


def embed_shard(
    encoder: Encoder,
    rows: pl.DataFrame,
    slices_dir: str | os.PathLike,
    output: str | os.PathLike,
    *,
    shard: int,
    index_hash: str,
    batch_size: int,
    num_workers: int,
) -> None:
    """Embed `rows` (index rows of one shard, in row-id order) and write the shard atomically."""
    n = rows.height
    row_ids = rows["row_id"].to_numpy().astype(np.int64)
    embeddings = np.empty((n, encoder.dim), dtype=np.float32)
    loader = shard_loader(
        rows, slices_dir, batch_size, num_workers, pin_memory=encoder.device.type == "cuda"
    )
    logger.info(
        "encoder %s, shard %d: %d slices on %s (%s), batch %d, %d workers",
        encoder.name, shard, n, encoder.device, encoder.precision, batch_size, num_workers,
    )  # fmt: skip
    progress = Progress(f"encoder {encoder.name}, shard {shard}", n, len(loader))
    done = 0
    for batch_row_ids, slices in loader:
        batch = encoder.encode(slices)
        expected_ids = row_ids[done : done + len(batch_row_ids)]
        if not np.array_equal(batch_row_ids.numpy(), expected_ids):
            raise EncoderError(
                encoder.name, f"read rows out of order at row {expected_ids[0]}", shard
            )
        check_batch(encoder, shard, batch, rows.slice(done, len(batch_row_ids)))
        embeddings[done : done + len(batch)] = batch.cpu().numpy()
        done += len(batch)
        progress.step(done)
    attrs = {**encoder.attrs(), "index_hash": index_hash, "shard": shard}
    attrs.setdefault("seed", None)
    write_embeddings(output, embeddings, row_ids, attrs)
    logger.info("encoder %s, shard %d: wrote %s", encoder.name, shard, output)


def check_batch(encoder: Encoder, shard: int, batch: torch.Tensor, rows: pl.DataFrame) -> None:
    if batch.ndim != 2 or batch.shape[1] != encoder.dim:
        raise EncoderError(
            encoder.name,
            f"the model returned embeddings of shape {tuple(batch.shape)} but the config says "
            f"dim {encoder.dim}",
            shard,
        )
    finite = torch.isfinite(batch).all(dim=1)
    if not bool(finite.all()):
        first = int((~finite).nonzero()[0, 0])
        row = rows.row(first, named=True)
        raise EncoderError(
            encoder.name,
            f"non-finite embedding for row {row['row_id']} ({row['modality']}/{row['image_id']} "
            f"{row['orientation']} slice {row['index']}) and {int((~finite).sum()) - 1} more "
            "in its batch",
            shard,
        )


class Progress:
    """Logs slices done, slices/s and the time left about every 1/PROGRESS_STEPS of a shard."""

    def __init__(self, label: str, total: int, batches: int):
        self.label = label
        self.total = total
        self.every = max(1, math.ceil(batches / PROGRESS_STEPS))
        self.batches = 0
        self.start = time.perf_counter()

    def step(self, done: int) -> None:
        self.batches += 1
        if self.batches % self.every and done < self.total:
            return
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else float("inf")
        left = (self.total - done) / rate if rate > 0 else float("inf")
        logger.info(
            "%s: %d/%d slices (%.0f%%), %.1f slices/s, ETA %.0f s",
            self.label, done, self.total, 100 * done / self.total, rate, left,
        )  # fmt: skip


def embed_job(
    *,
    index_path: str | os.PathLike,
    slices_dir: str | os.PathLike,
    output: str | os.PathLike,
    encoder_name: str,
    spec: dict,
    shard: int,
    scan_ids: list[str],
    device: torch.device | None = None,
) -> None:
    """What the `embed` rules run: read the index, pick the shard's rows, build, embed, write."""
    index, index_hash = read_index(index_path)
    rows = shard_rows(index, scan_ids, shard)
    spec = resolve_spec(encoder_name, spec)
    encoder = build_encoder(encoder_name, spec, device)
    embed_shard(
        encoder,
        rows,
        slices_dir,
        output,
        shard=shard,
        index_hash=index_hash,
        batch_size=spec["batch_size"],
        num_workers=spec["num_workers"],
    )
