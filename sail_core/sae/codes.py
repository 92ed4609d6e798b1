"""Sparse codes of every row of the embeddings view, stored as CSR in a Zarr v3 group.

Arrays: `indptr` int64 (N + 1), `indices` int32 (nnz), `values` float32 (nnz); attrs:
index_hash, n_latents, n_rows, sae, encoder, threshold, seed. Rows are encoded in chunks, so
memory stays bounded by one chunk's dense pre-activations. Reading codes needs no torch (the
evaluation jobs only read), so torch is imported by the encoder alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import zarr

from sail_core.io import atomic_output

if TYPE_CHECKING:
    from sail_core.sae.model import MatryoshkaSAE

logger = logging.getLogger(__name__)

NNZ_CHUNK = 1 << 20


def encode_codes(
    model: MatryoshkaSAE,
    view,
    path: str | os.PathLike,
    *,
    chunk_rows: int,
    attrs: dict,
    source: str,
) -> None:
    """Encode all rows of `view` (N, d) with the JumpReLU of `model` into a CSR Zarr group."""
    import torch

    n_rows, d_in = view.shape
    if d_in != model.d_in:
        raise ValueError(
            f"{source}: embeddings have {d_in} dimensions, the SAE expects {model.d_in}"
        )
    device = model.W_enc.device
    with atomic_output(path) as tmp:
        group = zarr.open_group(tmp, mode="w")
        indptr = group.create_array(
            "indptr", shape=(n_rows + 1,), dtype="int64", chunks=(NNZ_CHUNK,)
        )
        indices = group.create_array("indices", shape=(0,), dtype="int32", chunks=(NNZ_CHUNK,))
        values = group.create_array("values", shape=(0,), dtype="float32", chunks=(NNZ_CHUNK,))
        indptr[0:1] = np.zeros(1, dtype=np.int64)
        nnz = 0
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            x = np.asarray(view[start:stop], dtype=np.float32)
            bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
            if bad.size:
                raise ValueError(f"{source}: rows {(bad + start)[:10].tolist()} contain NaN or inf")
            with torch.no_grad():
                ptr, idx, val = model.encode_sparse(torch.from_numpy(x).to(device))
            indptr[start + 1 : stop + 1] = (ptr[1:].cpu().numpy() + nnz).astype(np.int64)
            indices.append(idx.cpu().numpy().astype(np.int32))
            values.append(val.cpu().numpy().astype(np.float32))
            nnz += int(ptr[-1])
            logger.info("encoded rows %d-%d of %d (%d non-zeros)", start, stop, n_rows, nnz)
        group.attrs.update(
            {
                **attrs,
                "n_rows": n_rows,
                "n_latents": model.n_latents,
                "threshold": float(model.threshold),
            }
        )


def _open(path: str | os.PathLike, index_hash: str | None):
    group = zarr.open_group(path, mode="r")
    stored = group.attrs.get("index_hash")
    if index_hash is not None and stored != index_hash:
        raise ValueError(f"{path}: codes were made for index {stored}, not {index_hash}")
    return group


def open_codes(path: str | os.PathLike, index_hash: str | None = None) -> sp.csr_matrix:
    """All codes as one SciPy CSR matrix (N, n_latents)."""
    group = _open(path, index_hash)
    shape = (group.attrs["n_rows"], group.attrs["n_latents"])
    return sp.csr_matrix((group["values"][:], group["indices"][:], group["indptr"][:]), shape=shape)


def iter_code_chunks(
    path: str | os.PathLike, chunk_rows: int, index_hash: str | None = None
) -> Iterator[tuple[int, sp.csr_matrix]]:
    """(row_start, CSR of rows row_start..row_start + chunk_rows) over all rows."""
    group = _open(path, index_hash)
    n_rows, n_latents = group.attrs["n_rows"], group.attrs["n_latents"]
    indptr = group["indptr"]
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        ptr = indptr[start : stop + 1]
        lo, hi = int(ptr[0]), int(ptr[-1])
        chunk = (group["values"][lo:hi], group["indices"][lo:hi], ptr - lo)
        yield start, sp.csr_matrix(chunk, shape=(stop - start, n_latents))
