"""Batched reads of slice pixels from the per-scan Zarr stores."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import zarr

from sail_core.layout import SCAN_STORE

ROW_COLUMNS = ("modality", "image_id", "orientation", "array_pos")


def contiguous_runs(positions: np.ndarray, max_gap: int) -> Iterator[tuple[int, int]]:
    """Half-open ranges covering sorted unique `positions`, merging gaps of up to `max_gap`."""
    if positions.size == 0:
        return
    breaks = np.flatnonzero(np.diff(positions) > max_gap + 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [positions.size - 1]))
    for start, end in zip(starts, ends, strict=True):
        yield int(positions[start]), int(positions[end]) + 1


class SliceReader:
    """Reads (n, S, S) uint8 slices for rows of the slice index, in the order of the rows.

    Rows are grouped by (scan, orientation); within a group, runs of nearby positions are read with
    one zarr call each (gaps up to `max_gap` slices are read and dropped). Open arrays are cached.
    """

    def __init__(
        self,
        slices_dir: str | Path,
        *,
        size: int | None = None,
        max_gap: int = 8,
        cache_size: int = 256,
    ):
        self.slices_dir = Path(slices_dir)
        self.size = size
        self.max_gap = max_gap
        self._array = functools.lru_cache(maxsize=cache_size)(self._open_array)

    def _open_array(self, modality: str, image_id: str, orientation: str) -> zarr.Array:
        path = self.slices_dir / f"{SCAN_STORE.format(modality=modality, image_id=image_id)}.zarr"
        if not path.is_dir():
            raise FileNotFoundError(f"{modality}/{image_id}: no slice store at {path}")
        group = zarr.open_group(path, mode="r")
        if group.attrs.get("quarantined"):
            raise ValueError(
                f"{modality}/{image_id} ({path}): the scan was quarantined "
                f"({group.attrs.get('reason')}), it has no slices to read"
            )
        if orientation not in group:
            raise KeyError(f"{modality}/{image_id} ({path}): no {orientation!r} slices stored")
        array = group[orientation]
        if array.ndim != 3 or array.dtype != np.uint8:
            raise ValueError(
                f"{modality}/{image_id} ({path}): {orientation} is {array.dtype} "
                f"{array.shape}, not a stack of uint8 slices (n, S, S)"
            )
        if self.size is not None and array.shape[1:] != (self.size, self.size):
            raise ValueError(
                f"{modality}/{image_id} ({path}): {orientation} slices are "
                f"{array.shape[1]}x{array.shape[2]}, expected {self.size}x{self.size}"
            )
        return array

    def read(self, rows: pl.DataFrame) -> np.ndarray:
        missing = [c for c in ROW_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"rows lack column(s) {', '.join(missing)}")
        if rows.height == 0:
            if self.size is None:
                raise ValueError("cannot shape an empty read without a known slice size")
            return np.empty((0, self.size, self.size), np.uint8)
        out: np.ndarray | None = None
        numbered = rows.select(ROW_COLUMNS).with_row_index("out_row")
        groups = numbered.group_by(ROW_COLUMNS[:3], maintain_order=True)
        for (modality, image_id, orientation), group in groups:
            array = self._array(modality, image_id, orientation)
            if out is None:
                out = np.empty((rows.height, *array.shape[1:]), np.uint8)
            elif array.shape[1:] != out.shape[1:]:
                raise ValueError(
                    f"{modality}/{image_id}: {orientation} slices have shape {array.shape[1:]}, "
                    f"earlier rows {out.shape[1:]}"
                )
            positions = group["array_pos"].to_numpy()
            targets = group["out_row"].to_numpy()
            if positions.min() < 0 or positions.max() >= array.shape[0]:
                raise IndexError(
                    f"{modality}/{image_id}: {orientation} array_pos outside 0..{array.shape[0] - 1}"
                )
            for start, stop in contiguous_runs(np.unique(positions), self.max_gap):
                block = array[start:stop]
                inside = (positions >= start) & (positions < stop)
                out[targets[inside]] = block[positions[inside] - start]
        return out
