"""Chunked reading of a CSR code store (results/codes/{encoder}/{sae}.zarr).

The store (written by the SAE stage) holds arrays `indptr` (N+1), `indices`, `values` and attrs
`index_hash`, `n_rows`, `n_latents`. Every read goes through row chunks, so memory follows the
chunk size and the rows asked for, never the size of the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import zarr

from sail_core.sae.codes import iter_code_chunks

ARRAYS = ("indptr", "indices", "values")


class CodeStoreError(ValueError):
    pass


class CodeStore:
    """A code store checked against the slice index; rows are read through row chunks."""

    def __init__(self, path: str | Path, index_hash: str | None = None) -> None:
        self.path = Path(path)
        try:
            group = zarr.open_group(str(self.path), mode="r")
        except FileNotFoundError as err:
            raise CodeStoreError(f"{self.path}: not a CSR code store ({err})") from err
        missing = [name for name in ARRAYS if name not in group]
        missing += [name for name in ("n_rows", "n_latents") if name not in group.attrs]
        if missing:
            raise CodeStoreError(f"{self.path}: not a CSR code store (missing {missing})")
        stored_hash = group.attrs.get("index_hash")
        if index_hash is not None and stored_hash != index_hash:
            raise CodeStoreError(
                f"{self.path}: index hash {stored_hash} does not match the slice index "
                f"({index_hash}); the codes belong to another slice table"
            )
        self.index_hash = index_hash
        self.n_rows = int(group.attrs["n_rows"])
        self.n_latents = int(group.attrs["n_latents"])

    def iter_chunks(self, chunk_rows: int) -> Iterator[tuple[int, sp.csr_matrix]]:
        """(first row id, CSR chunk) over the whole store."""
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        return iter_code_chunks(self.path, chunk_rows, self.index_hash)

    def read_rows(self, row_ids, chunk_rows: int = 65536) -> sp.csr_matrix:
        """The given rows (any order, repeats allowed) as one CSR matrix in that order."""
        row_ids = np.asarray(row_ids, dtype=np.int64)
        if row_ids.size and (row_ids.min() < 0 or row_ids.max() >= self.n_rows):
            raise CodeStoreError(f"{self.path}: row ids outside 0..{self.n_rows - 1}")
        wanted = np.unique(row_ids)
        parts = []
        for start, chunk in self.iter_chunks(chunk_rows):
            lo, hi = np.searchsorted(wanted, [start, start + chunk.shape[0]])
            if hi > lo:
                parts.append(chunk[wanted[lo:hi] - start])
        stacked = (
            sp.vstack(parts, format="csr")
            if parts
            else sp.csr_matrix((0, self.n_latents), dtype=np.float32)
        )
        return stacked[np.searchsorted(wanted, row_ids)]


def write_code_store(path: str | Path, codes: sp.csr_matrix, attrs: dict) -> None:
    """A CSR store in the layout of the SAE stage; used for tests and synthetic benchmarks."""
    codes = sp.csr_matrix(codes)
    group = zarr.open_group(str(path), mode="w")
    arrays = (
        codes.indptr.astype(np.int64),
        codes.indices.astype(np.int32),
        codes.data.astype(np.float32),
    )
    for name, data in zip(ARRAYS, arrays, strict=True):
        array = group.create_array(
            name, shape=data.shape, dtype=data.dtype, chunks=(max(1, min(data.size, 1 << 20)),)
        )
        array[:] = data
    group.attrs.update(
        {"n_latents": codes.shape[1], "n_rows": codes.shape[0], **attrs},
    )
