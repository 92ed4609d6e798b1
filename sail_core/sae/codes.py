"""The CSR code store (results/codes/{encoder}/{sae}.zarr): its one writer and its reader.

A Zarr v3 group with arrays `indptr` int64 (N + 1), `indices` int32 (nnz), `values` float32
(nnz) and attrs `n_rows`, `n_latents`, `index_hash` (of the slice index the rows follow) plus
provenance (sae, encoder, threshold, seed). `encode_codes` writes the sparse codes of every row
of an embeddings view in row chunks, so memory stays bounded by one chunk's dense
pre-activations; `write_code_store` writes given codes (synthetic data, tests) through the same
writer. Every read goes through `CodeStore` in row chunks, so memory follows the chunk size and
the rows asked for, never the size of the store. Reading needs no torch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import zarr

from sail_core.io import atomic_output

if TYPE_CHECKING:
    from sail_core.sae.model import MatryoshkaSAE

logger = logging.getLogger(__name__)

ARRAYS = ("indptr", "indices", "values")
NNZ_CHUNK = 1 << 20


class CodeStoreError(ValueError):
    pass


def _write(
    path: str | os.PathLike,
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_rows: int,
    n_latents: int,
    attrs: dict,
) -> None:
    """Write row chunks, each (indptr from 0, indices, values), atomically."""
    with atomic_output(path) as tmp:
        group = zarr.open_group(tmp, mode="w")
        indptr = group.create_array(
            "indptr", shape=(n_rows + 1,), dtype="int64", chunks=(NNZ_CHUNK,)
        )
        indices = group.create_array("indices", shape=(0,), dtype="int32", chunks=(NNZ_CHUNK,))
        values = group.create_array("values", shape=(0,), dtype="float32", chunks=(NNZ_CHUNK,))
        indptr[0:1] = np.zeros(1, dtype=np.int64)
        row, nnz = 0, 0
        for ptr, idx, val in chunks:
            n = ptr.size - 1
            indptr[row + 1 : row + n + 1] = ptr[1:].astype(np.int64) + nnz
            indices.append(idx.astype(np.int32))
            values.append(val.astype(np.float32))
            row, nnz = row + n, nnz + int(ptr[-1])
        if row != n_rows:
            raise CodeStoreError(f"{path}: {row} rows written, {n_rows} expected")
        group.attrs.update({**attrs, "n_rows": n_rows, "n_latents": n_latents})


def encode_codes(
    model: MatryoshkaSAE,
    view,
    path: str | os.PathLike,
    *,
    chunk_rows: int,
    attrs: dict,
    source: str,
) -> None:
    """Encode all rows of `view` (N, d) with the JumpReLU of `model` into a code store."""
    import torch  # here alone: jobs that only read codes never import torch

    n_rows, d_in = view.shape
    if d_in != model.d_in:
        raise ValueError(
            f"{source}: embeddings have {d_in} dimensions, the SAE expects {model.d_in}"
        )
    device = model.W_enc.device

    def chunks():
        nnz = 0
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            x = np.asarray(view[start:stop], dtype=np.float32)
            bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
            if bad.size:
                raise ValueError(f"{source}: rows {(bad + start)[:10].tolist()} contain NaN or inf")
            with torch.no_grad():
                ptr, idx, val = model.encode_sparse(torch.from_numpy(x).to(device))
            nnz += int(ptr[-1])
            logger.info("encoded rows %d-%d of %d (%d non-zeros)", start, stop, n_rows, nnz)
            yield ptr.cpu().numpy(), idx.cpu().numpy(), val.cpu().numpy()

    threshold = {"threshold": float(model.threshold)}
    _write(path, chunks(), n_rows, model.n_latents, {**attrs, **threshold})


def write_code_store(path: str | os.PathLike, codes: sp.csr_matrix, attrs: dict) -> None:
    """Given codes (N, n_latents) as a code store; `attrs` must name the index_hash."""
    codes = sp.csr_matrix(codes)
    codes.sort_indices()
    chunk = (codes.indptr, codes.indices, codes.data)
    _write(path, [chunk], codes.shape[0], codes.shape[1], attrs)


class CodeStore:
    """A code store checked against the slice index; rows are read through row chunks."""

    def __init__(self, path: str | Path, index_hash: str | None = None) -> None:
        self.path = Path(path)
        try:
            self._group = zarr.open_group(str(self.path), mode="r")
        except FileNotFoundError as err:
            raise CodeStoreError(f"{self.path}: not a CSR code store ({err})") from err
        group = self._group
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
        if group["indptr"].shape != (self.n_rows + 1,):
            raise CodeStoreError(f"{self.path}: indptr does not have n_rows + 1 entries")

    def iter_chunks(self, chunk_rows: int) -> Iterator[tuple[int, sp.csr_matrix]]:
        """(first row id, CSR chunk) over the whole store."""
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        group, indptr = self._group, self._group["indptr"]
        for start in range(0, self.n_rows, chunk_rows):
            stop = min(start + chunk_rows, self.n_rows)
            ptr = indptr[start : stop + 1]
            lo, hi = int(ptr[0]), int(ptr[-1])
            chunk = (group["values"][lo:hi], group["indices"][lo:hi], ptr - lo)
            yield start, sp.csr_matrix(chunk, shape=(stop - start, self.n_latents))

    def read_all(self, chunk_rows: int = 65536) -> sp.csr_matrix:
        parts = [chunk for _, chunk in self.iter_chunks(chunk_rows)]
        if not parts:
            return sp.csr_matrix((0, self.n_latents), dtype=np.float32)
        return sp.vstack(parts, format="csr")

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
