"""Fingerprint retrieval (the study's §9) with metadata agreement beside dense-space quality.

- sparse fingerprint (K): the reference's K most active latents, latents active on every pool
  row excluded; a reference with fewer active latents uses those it has.
- dense fingerprint (K): the K embedding dimensions of largest |value|.
- similarity over the K indices: cosine, or 1 / (1 + |difference|) when K = 1; `dense_full` is
  the cosine over the whole embedding.
- retrieval: the most similar slice of each scan other than the reference's own scan, best
  `n_retrieved` scans.
- quality: mean cosine in the full dense space between the reference and what it retrieved
  (the study's measure, optimal for dense_full by construction); agreement: precision over the
  retrieved list and average precision over the retrieved list only (`ap_over_retrieved_*`, not
  AP over the pool) of same modality / orientation / sex, and mean structure Jaccard.
- base rate: the share of pool rows outside the reference's scan with the reference's value,
  i.e. the precision of a random retrieval; lift = mean precision / mean base rate.
References are a seeded sample of the pool's row ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from sail_core import metrics
from sail_core.columns import structure_columns
from sail_core.mine.rows import scan_codes
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

QUALITY_BLOCK = 64
AGREEMENT_COLUMNS = {"modality": "modality", "orientation": "orientation", "sex": "gender"}


@dataclass(frozen=True)
class FingerprintSettings:
    splits: list[str]
    n_references: int
    k_values: tuple[int, ...]
    n_retrieved: int
    report_k: int
    seed: int


@dataclass(frozen=True)
class FingerprintResult:
    per_reference: pl.DataFrame
    summary: pl.DataFrame
    retrieved: pl.DataFrame


def subvector_similarity(reference: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Cosine over the fingerprint indices, or 1 / (1 + |difference|) for a single index."""
    if reference.size == 1:
        return 1.0 / (1.0 + np.abs(candidates[:, 0] - reference[0]))
    norms = np.linalg.norm(candidates, axis=1) * np.linalg.norm(reference)
    dots = candidates @ reference
    return np.divide(dots, norms, out=np.zeros_like(dots, dtype=np.float64), where=norms > 0)


def scan_segments(scans: np.ndarray) -> np.ndarray:
    """Start position of every scan's run of rows; the rows of a scan must be contiguous."""
    starts = np.r_[0, np.flatnonzero(np.diff(scans)) + 1]
    if starts.size != np.unique(scans).size:
        raise ValueError("the rows of a scan are not contiguous in the retrieval pool")
    return starts


def best_per_scan(
    similarity: np.ndarray, segments: np.ndarray, exclude_segment: int, n_retrieved: int
) -> np.ndarray:
    """Positions of the best slice of each of the `n_retrieved` most similar scans, scan
    `exclude_segment` (an index into `segments`) left out; ties go to the smaller position."""
    best = np.maximum.reduceat(similarity, segments)
    lengths = np.diff(np.r_[segments, similarity.size])
    at_best = np.flatnonzero(similarity == np.repeat(best, lengths))
    segment_of = np.searchsorted(segments, at_best, side="right") - 1
    first = at_best[np.unique(segment_of, return_index=True)[1]]
    order = np.lexsort((first, -best))
    return first[order[order != exclude_segment][:n_retrieved]]


def sparse_fingerprint(
    row: sp.csr_matrix, excluded: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest activations of a CSR row, latents in `excluded`
    left out."""
    indices, values = row.indices, row.data
    keep = (values > 0) & ~excluded[indices]
    indices, values = indices[keep], values[keep]
    top = np.lexsort((indices, -values))[:k]
    return indices[top], values[top]


def dense_fingerprint(vector: np.ndarray, k: int) -> np.ndarray:
    return np.lexsort((np.arange(vector.size), -np.abs(vector)))[:k]


def base_rates(values: list, scans: np.ndarray) -> np.ndarray:
    """Per pool row: the share of rows of other scans holding the row's value (NaN for a row
    without a value or a pool of one scan)."""
    table = pl.DataFrame({"scan": scans, "value": values}, strict=False)
    counted = table.with_columns(
        pl.len().over("value").alias("n_value"),
        pl.len().over("scan", "value").alias("n_scan_value"),
        pl.len().over("scan").alias("n_scan"),
    )
    others = table.height - counted["n_scan"].to_numpy()
    same = (counted["n_value"] - counted["n_scan_value"]).to_numpy().astype(np.float64)
    rate = np.divide(same, others, out=np.full(same.size, np.nan), where=others > 0)
    rate[table["value"].is_null().to_numpy()] = np.nan
    return rate


def value_codes(values: list) -> np.ndarray:
    """Each value as an integer code (equal values, equal codes); -1 for a missing value."""
    present = np.array([value is not None for value in values], dtype=bool)
    codes = np.full(len(values), -1, dtype=np.int64)
    if present.any():
        kept = np.array([str(value) for value in values if value is not None])
        codes[present] = np.unique(kept, return_inverse=True)[1]
    return codes


def agreement(
    reference: int, retrieved: np.ndarray, labels: dict, presence: np.ndarray, base: dict
) -> dict:
    """precision over the retrieved list, average precision over that list, and the base rate
    per label; mean structure Jaccard. Rows are pool positions; `labels` maps a label to the
    value codes of the rows (`value_codes`) and `base` to their base rates. A reference without
    a label value gets NaN for that label."""
    scores = {}
    for name, codes in labels.items():
        scores[f"base_rate_{name}"] = float(base[name][reference])
        if codes[reference] < 0:
            scores[f"precision_{name}"] = scores[f"ap_over_retrieved_{name}"] = np.nan
            continue
        relevant = codes[retrieved] == codes[reference]
        scores[f"precision_{name}"] = (
            metrics.precision_at_k(relevant, relevant.size) if relevant.size else np.nan
        )
        scores[f"ap_over_retrieved_{name}"] = metrics.average_precision(relevant)
    jaccards = metrics.jaccard_to_rows(presence[reference], presence[retrieved])
    scores["structure_jaccard"] = float(jaccards.mean()) if jaccards.size else np.nan
    return scores


def retrieve_all(
    pool: pl.DataFrame,
    codes: sp.csr_matrix,
    dense: np.ndarray,
    references: np.ndarray,
    settings: FingerprintSettings,
) -> tuple[list[dict], list[dict]]:
    """Per-reference records and the retrieved lists at `report_k`; `references` are pool
    positions and every matrix is aligned with `pool`."""
    scans = scan_codes(pool)[0]
    segments = scan_segments(scans)
    always_active = codes.getnnz(axis=0) == codes.shape[0]
    columns = codes.tocsc()
    unit = dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
    values = {n: pool[c].to_list() for n, c in AGREEMENT_COLUMNS.items() if c in pool.columns}
    base = {name: base_rates(column, scans) for name, column in values.items()}
    labels = {name: value_codes(column) for name, column in values.items()}
    presence = pool.select(structure_columns(pool)).to_numpy().astype(bool)
    row_ids = pool["row_id"].to_numpy()
    # dimension-major copy: a dense fingerprint's dimensions are then contiguous rows to read
    by_dimension = np.ascontiguousarray(dense.T)
    per_reference, retrieved_rows = [], []
    for done, ref in enumerate(references, start=1):
        if (done - 1) % QUALITY_BLOCK == 0:
            # the full-space cosines of a block of references in one pass over the pool
            block = references[done - 1 : done - 1 + QUALITY_BLOCK]
            qualities = unit[block] @ unit.T
        quality = qualities[(done - 1) % QUALITY_BLOCK]
        searches = [("dense_full", None, quality)]
        row = codes[ref]
        for k in settings.k_values:
            fp, sparse_values = sparse_fingerprint(row, always_active, k)
            if fp.size:
                searches.append(
                    ("sparse_fp", k, subvector_similarity(sparse_values, columns[:, fp].toarray()))
                )
            dims = dense_fingerprint(dense[ref], k)
            candidates = by_dimension[dims].T
            searches.append(("dense_fp", k, subvector_similarity(dense[ref, dims], candidates)))
        for method, k, similarity in searches:
            own_scan = np.searchsorted(segments, ref, side="right") - 1
            hits = best_per_scan(similarity, segments, own_scan, settings.n_retrieved)
            q = quality[hits]
            per_reference.append(
                {
                    "reference_row_id": int(row_ids[ref]),
                    "method": method,
                    "k": k,
                    "n_retrieved": int(hits.size),
                    "quality_mean": float(q.mean()) if q.size else np.nan,
                    "quality_sd": float(q.std()) if q.size else np.nan,
                    "quality_min": float(q.min()) if q.size else np.nan,
                    "quality_max": float(q.max()) if q.size else np.nan,
                    **agreement(ref, hits, labels, presence, base),
                }
            )
            if k in (None, settings.report_k):
                retrieved_rows += [
                    {
                        "reference_row_id": int(row_ids[ref]),
                        "method": method,
                        "k": k,
                        "rank": rank,
                        "row_id": int(row_ids[hit]),
                        "similarity": float(similarity[hit]),
                        "dense_cosine": float(quality[hit]),
                    }
                    for rank, hit in enumerate(hits, start=1)
                ]
        if done % 100 == 0:
            logger.info("%d of %d references done", done, len(references))
    return per_reference, retrieved_rows


def summarise(per_reference: pl.DataFrame) -> pl.DataFrame:
    """Per method and K: reference count, mean and sd of quality, mean agreement, mean base rate
    and lift (mean precision / mean base rate) per label; for the sparse fingerprint also its quality relative to dense_full and to dense_fp at the same K."""
    agreement_columns = [
        c
        for c in per_reference.columns
        if c.startswith(("precision_", "ap_over_retrieved_", "base_rate_", "structure_"))
    ]
    lift_names = [
        c.removeprefix("base_rate_") for c in agreement_columns if c.startswith("base_rate_")
    ]
    summary = (
        per_reference.group_by("method", "k")
        .agg(
            pl.len().alias("n_references"),
            pl.col("quality_mean").mean().alias("quality"),
            pl.col("quality_mean").std().alias("quality_sd"),
            *[pl.col(c).fill_nan(None).mean() for c in agreement_columns],
        )
        .sort("method", "k", nulls_last=True)
        .with_columns(
            pl.col(f"precision_{name}")
            .truediv(pl.when(pl.col(f"base_rate_{name}") > 0).then(pl.col(f"base_rate_{name}")))
            .alias(f"lift_{name}")
            for name in lift_names
        )
    )
    full = summary.filter(pl.col("method") == "dense_full")["quality"]
    dense_fp = summary.filter(pl.col("method") == "dense_fp").select(
        "k", pl.col("quality").alias("dense_fp_quality")
    )
    return (
        summary.join(dense_fp, on="k", how="left")
        .with_columns(
            pl.when(pl.col("method") == "sparse_fp")
            .then(pl.col("quality") / (full[0] if full.len() else None))
            .alias("relative_to_dense_full"),
            pl.when(pl.col("method") == "sparse_fp")
            .then(pl.col("quality") / pl.col("dense_fp_quality"))
            .alias("relative_to_dense_fp"),
        )
        .drop("dense_fp_quality")
    )


def run_fingerprint(
    index: pl.DataFrame,
    store: CodeStore,
    load_dense: Callable[[np.ndarray], np.ndarray],
    settings: FingerprintSettings,
) -> FingerprintResult:
    pool = index.filter(pl.col("split").is_in(settings.splits)).sort("row_id")
    if pool.height < 2:
        raise ValueError(
            f"fingerprint retrieval: split(s) {', '.join(settings.splits)} hold {pool.height} "
            "rows, at least two are needed"
        )
    row_ids = pool["row_id"].to_numpy()
    codes = store.read_rows(row_ids)
    dense = np.asarray(load_dense(row_ids), dtype=np.float32)
    rng = np.random.default_rng(settings.seed)
    references = np.sort(
        rng.choice(pool.height, min(settings.n_references, pool.height), replace=False)
    )
    per_reference, retrieved = retrieve_all(pool, codes, dense, references, settings)
    per_reference = pl.DataFrame(per_reference, infer_schema_length=None)
    return FingerprintResult(
        per_reference=per_reference,
        summary=summarise(per_reference),
        retrieved=pl.DataFrame(retrieved, infer_schema_length=None),
    )
