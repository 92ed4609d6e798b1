"""Training rows: checks, the in-memory / streamed decision, and seeded epoch orders.

`view` is any (N, d) array indexable by sorted row ids (a numpy array or the dask embeddings
view). The train split goes into memory (on the training device) when it fits the memory budget,
otherwise it is streamed in blocks of consecutive train rows: each epoch visits the blocks in a
new random order and shuffles rows within a block, so only two blocks are resident at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

logger = logging.getLogger(__name__)

BYTES_PER_VALUE = 4
RESIDENT_BLOCKS = 2
LOAD_CHUNK_ROWS = 65536


def read_rows(view, rows: np.ndarray) -> np.ndarray:
    """Rows (sorted ids) of the view as a float32 array."""
    return np.asarray(view[rows], dtype=np.float32)


def iter_row_chunks(
    view, rows: np.ndarray, chunk_rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row ids, float32 rows) in chunks of at most `chunk_rows`, in the given order."""
    for start in range(0, rows.size, chunk_rows):
        ids = rows[start : start + chunk_rows]
        yield ids, read_rows(view, ids)


def load_rows(
    view, rows: np.ndarray, transform: Callable[[Tensor], Tensor], chunk_rows: int = LOAD_CHUNK_ROWS
) -> Tensor:
    """Rows (sorted ids) of the view in one float32 tensor, read and passed through the
    row-wise `transform` chunk by chunk: peak memory is the result plus one chunk, not two
    copies of the split."""
    data = torch.empty(rows.size, view.shape[1], dtype=torch.float32)
    for start in range(0, rows.size, chunk_rows):
        chunk = torch.from_numpy(read_rows(view, rows[start : start + chunk_rows]))
        data[start : start + chunk.shape[0]] = transform(chunk)
    return data


def check_rows(view, split_rows: dict[str, np.ndarray], chunk_rows: int, source: str) -> None:
    """Fail before training on an empty train split or non-finite rows (naming them)."""
    if split_rows.get("train") is None or split_rows["train"].size == 0:
        raise ValueError(f"{source}: the train split is empty; an SAE cannot be trained")
    for split, rows in split_rows.items():
        bad: list[int] = []
        for ids, chunk in iter_row_chunks(view, rows, chunk_rows):
            bad.extend(ids[~np.isfinite(chunk).all(axis=1)].tolist())
        if bad:
            shown = ", ".join(str(r) for r in bad[:10])
            raise ValueError(
                f"{source}: {len(bad)} {split} rows contain NaN or inf (row ids {shown}"
                f"{', ...' if len(bad) > 10 else ''})"
            )


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch's order: a pure function of (seed, epoch), so resume is exact."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def blocked_order(seed: int, epoch: int, n_rows: int, block_rows: int) -> Tensor:
    """One epoch's order of blocks of consecutive rows: the blocks in a seeded random order,
    the rows shuffled within each block."""
    generator = epoch_generator(seed, epoch)
    n_blocks = -(-n_rows // block_rows)
    parts = []
    for block in torch.randperm(n_blocks, generator=generator).tolist():
        start = block * block_rows
        size = min(block_rows, n_rows - start)
        parts.append(start + torch.randperm(size, generator=generator))
    return torch.cat(parts)


class InMemoryRows:
    """The whole split as one tensor; every epoch a fresh seeded permutation (or, with
    `block_rows`, the blocked order a streamed split of that block size would follow)."""

    def __init__(self, data: Tensor, block_rows: int | None = None) -> None:
        self.data = data
        self.n_rows = data.shape[0]
        self.block_rows = block_rows

    def epoch_order(self, seed: int, epoch: int) -> Tensor:
        if self.block_rows is not None:
            return blocked_order(seed, epoch, self.n_rows, self.block_rows)
        return torch.randperm(self.n_rows, generator=epoch_generator(seed, epoch))

    def take(self, positions: Tensor) -> Tensor:
        return self.data[positions.to(self.data.device)]


class StreamedRows:
    """A split read block by block from the view; rows are transformed as they are loaded."""

    def __init__(
        self,
        view,
        rows: np.ndarray,
        block_rows: int,
        transform: Callable[[Tensor], Tensor],
        device: torch.device,
    ) -> None:
        self.view = view
        self.rows = rows
        self.block_rows = block_rows
        self.transform = transform
        self.device = device
        self.n_rows = rows.size
        self._resident: dict[int, Tensor] = {}

    def epoch_order(self, seed: int, epoch: int) -> Tensor:
        return blocked_order(seed, epoch, self.n_rows, self.block_rows)

    def _block(self, block: int) -> Tensor:
        if block not in self._resident:
            if len(self._resident) >= RESIDENT_BLOCKS:
                self._resident.pop(next(iter(self._resident)))
            start = block * self.block_rows
            chunk = read_rows(self.view, self.rows[start : start + self.block_rows])
            self._resident[block] = self.transform(torch.from_numpy(chunk).to(self.device))
        return self._resident[block]

    def take(self, positions: Tensor) -> Tensor:
        blocks = torch.div(positions, self.block_rows, rounding_mode="floor")
        out = torch.empty(positions.numel(), self.view.shape[1], device=self.device)
        for block in blocks.unique().tolist():
            chosen = (blocks == block).nonzero().squeeze(1)
            local = positions[chosen] - block * self.block_rows
            out[chosen.to(self.device)] = self._block(block)[local.to(self.device)]
        return out


def train_source(
    view,
    rows: np.ndarray,
    memory_budget_mb: int,
    transform: Callable[[Tensor], Tensor],
    device: torch.device,
) -> InMemoryRows | StreamedRows:
    """In memory when the split fits the budget, else streamed in blocks that do."""
    d = view.shape[1]
    needed_mb = rows.size * d * BYTES_PER_VALUE / 2**20
    if needed_mb <= memory_budget_mb:
        logger.info(
            "train split in memory: %d rows x %d dims = %.1f MiB (budget %d MiB)",
            rows.size,
            d,
            needed_mb,
            memory_budget_mb,
        )
        return InMemoryRows(load_rows(view, rows, transform).to(device))
    block_rows = max(1, memory_budget_mb * 2**20 // (RESIDENT_BLOCKS * d * BYTES_PER_VALUE))
    logger.info(
        "train split streamed: %.1f MiB exceeds the %d MiB budget; blocks of %d rows",
        needed_mb,
        memory_budget_mb,
        block_rows,
    )
    return StreamedRows(view, rows, block_rows, transform, device)
