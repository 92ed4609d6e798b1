"""Embedding shards on disk and a lazy (N, d) view over all shards of an encoder.

A shard is a Zarr v3 group with "embeddings" float32 (n, d), "row_ids" int64 (n,) and attrs
(encoder, kind, model_id, revision, preprocessing, dim, index_hash, seed, shard, precision).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import dask.array as da
import numpy as np
import zarr

from sail_core.io import atomic_output

EMBEDDINGS = "embeddings"
ROW_IDS = "row_ids"
CHUNK_BYTES = 8 * 2**20


def write_embeddings(
    path: str | os.PathLike, embeddings: np.ndarray, row_ids: np.ndarray, attrs: dict
) -> None:
    """Write one shard atomically: a reader sees the whole group or none."""
    n, dim = embeddings.shape
    rows_per_chunk = max(1, min(n, CHUNK_BYTES // (4 * dim)))
    with atomic_output(path) as tmp:
        group = zarr.open_group(tmp, mode="w", zarr_format=3)
        group.create_array(
            EMBEDDINGS, data=embeddings.astype(np.float32), chunks=(rows_per_chunk, dim)
        )
        group.create_array(ROW_IDS, data=row_ids.astype(np.int64), chunks=(max(1, n),))
        group.attrs.update(attrs)


def _open_shard(path: str | os.PathLike) -> zarr.Group:
    try:
        group = zarr.open_group(path, mode="r")
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: no embedding shard there") from err
    missing = [name for name in (EMBEDDINGS, ROW_IDS) if name not in group]
    if missing or "index_hash" not in group.attrs:
        raise ValueError(f"{path}: not an embedding shard (missing {missing or 'index_hash'})")
    embeddings, row_ids = group[EMBEDDINGS], group[ROW_IDS]
    if embeddings.ndim != 2 or embeddings.dtype != np.float32:
        raise ValueError(
            f"{path}: embeddings are {embeddings.dtype} {embeddings.shape}, not float32 (n, d)"
        )
    if row_ids.ndim != 1 or row_ids.dtype != np.int64 or row_ids.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"{path}: row ids are {row_ids.dtype} {row_ids.shape}, not int64 with one per "
            f"embedding ({embeddings.shape[0]})"
        )
    return group


def shard_attrs(path: str | os.PathLike) -> dict:
    """The attributes of one checked shard (encoder, kind, index_hash, ...)."""
    return dict(_open_shard(path).attrs)


def open_embeddings(paths: Sequence[str | os.PathLike], index_hash: str | None = None) -> da.Array:
    """All shards of one encoder as a lazy (N, d) array, checked to cover row ids 0..N-1 in
    order and to share one index hash (equal to `index_hash` when given)."""
    if not paths:
        raise ValueError("no embedding shards given")
    shards = {str(path): _open_shard(path) for path in paths}
    hashes = {path: group.attrs["index_hash"] for path, group in shards.items()}
    expected_hash = index_hash or next(iter(hashes.values()))
    for path, found in hashes.items():
        if found != expected_hash:
            raise ValueError(
                f"{path}: index hash {found} differs from {expected_hash}: the shard was "
                "embedded from another slice index"
            )
    dims = {path: group[EMBEDDINGS].shape[1] for path, group in shards.items()}
    if len(set(dims.values())) > 1:
        raise ValueError(f"embedding shards differ in dimension: {dims}")
    row_ids = {path: group[ROW_IDS][:] for path, group in shards.items()}
    filled = sorted((ids[0], path) for path, ids in row_ids.items() if len(ids))
    next_row = 0
    for _, path in filled:
        ids = row_ids[path]
        if not np.array_equal(ids, np.arange(next_row, next_row + len(ids))):
            raise ValueError(
                f"{path}: row ids {ids[0]}..{ids[-1]} do not continue the previous shards, "
                f"which end before row {next_row} (missing, overlapping or unordered rows)"
            )
        next_row += len(ids)
    if not filled:
        return da.zeros((0, next(iter(dims.values()))), dtype=np.float32)
    return da.concatenate([da.from_zarr(shards[path][EMBEDDINGS]) for _, path in filled])


def load_embeddings(
    paths: Sequence[str | os.PathLike],
    row_ids: Sequence[int] | np.ndarray | None = None,
    index_hash: str | None = None,
) -> np.ndarray:
    """The embeddings of `row_ids` (all rows when None) as float32 (len(row_ids), d)."""
    embeddings = open_embeddings(paths, index_hash)
    if row_ids is not None:
        embeddings = embeddings[np.asarray(row_ids, dtype=np.int64)]
    return embeddings.compute()
