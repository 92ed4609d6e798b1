"""Batches of one shard's slices, read from the slice store by DataLoader workers."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import torch
from torch.utils.data import DataLoader, Dataset

from sail_core.data import store

READ_COLUMNS = ("row_id", "modality", "image_id", "orientation", "array_pos")


class ShardBatches(Dataset):
    """Item i = (row ids int64 (b,), slices uint8 (b, S, S)) of the i-th batch of `rows`.

    An item is a whole batch, so one read call fetches consecutive slices of one or two scans
    (rows are in index order) instead of one call per slice.
    """

    def __init__(self, rows: pl.DataFrame, slices_dir: str | Path, batch_size: int):
        self.rows = rows.select(READ_COLUMNS)
        self.slices_dir = Path(slices_dir)
        self.batch_size = batch_size
        self._reader: store.SliceReader | None = None

    def __len__(self) -> int:
        return math.ceil(self.rows.height / self.batch_size)

    def __getitem__(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._reader is None:
            # created lazily so that each worker process opens the stores itself
            self._reader = store.SliceReader(self.slices_dir)
        rows = self.rows.slice(batch * self.batch_size, self.batch_size)
        slices = self._reader.read(rows)
        if slices.shape[0] != rows.height:
            raise ValueError(
                f"{self.slices_dir}: read {slices.shape[0]} slices for {rows.height} rows "
                f"starting at row {rows['row_id'][0]}"
            )
        return torch.tensor(rows["row_id"].to_numpy(), dtype=torch.int64), torch.from_numpy(slices)


def shard_loader(
    rows: pl.DataFrame,
    slices_dir: str | Path,
    batch_size: int,
    num_workers: int,
    pin_memory: bool,
) -> DataLoader:
    return DataLoader(
        ShardBatches(rows, slices_dir, batch_size),
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers else None,
        # forked workers deadlock in thread pools (polars, CUDA) that the parent already runs;
        # spawned ones import the main module again, which must guard its work with __main__
        multiprocessing_context="spawn" if num_workers else None,
    )
