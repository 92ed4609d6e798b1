import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core.evaluate.fingerprint import (
    FingerprintSettings,
    base_rates,
    best_per_scan,
    retrieve_all,
    run_fingerprint,
    scan_segments,
    sparse_fingerprint,
    subvector_similarity,
    summarise,
)
from sail_core.sae.codes import CodeStore, write_code_store


def test_similarity_over_fingerprint_indices():
    candidates = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert subvector_similarity(np.array([3.0, 0.0]), candidates).tolist() == [1, 1, 0, 0]
    single = subvector_similarity(np.array([0.5]), np.array([[0.5], [1.5], [0.0]]))
    np.testing.assert_allclose(single, [1.0, 0.5, 1 / 1.5])


def test_best_per_scan_excludes_the_own_scan_and_keeps_one_slice_per_scan():
    similarity = np.array([1.0, 0.9, 0.8, 0.8, 0.7, 0.95, 0.3])
    segments = scan_segments(np.array([4, 4, 1, 1, 2, 3, 3]))
    assert segments.tolist() == [0, 2, 4, 5]
    assert best_per_scan(similarity, segments, 0, n_retrieved=5).tolist() == [5, 2, 4]
    assert best_per_scan(similarity, segments, 3, n_retrieved=2).tolist() == [0, 2]
    with pytest.raises(ValueError, match="not contiguous"):
        scan_segments(np.array([0, 1, 0]))


def test_sparse_fingerprint_skips_always_active_latents():
    row = sp.csr_matrix(np.array([[0.9, 0.0, 0.3, 0.5, 0.3]]))
    excluded = np.array([True, False, False, False, False])
    indices, values = sparse_fingerprint(row, excluded, 2)
    assert indices.tolist() == [3, 2]
    np.testing.assert_array_equal(values, row.toarray()[0, [3, 2]])
    assert sparse_fingerprint(row, excluded, 10)[0].tolist() == [3, 2, 4]


def _pool():
    """Six slices of four scans; CT and MRI share image id s0001."""
    return pl.DataFrame(
        {
            "row_id": np.arange(6),
            "modality": ["ct", "ct", "mri", "mri", "ct", "ct"],
            "image_id": ["s0001", "s0001", "s0001", "s0002", "s0003", "s0003"],
            "orientation": ["axial", "coronal", "axial", "axial", "axial", "axial"],
            "gender": ["f", "f", "m", "f", None, None],
            "split": ["val"] * 6,
            "structure_liver": [True, True, False, False, True, False],
            "structure_brain": [False, False, False, True, False, True],
        }
    )


CODES = np.array(
    [
        [1.0, 0.9, 0.0, 0.1],
        [1.0, 0.9, 0.0, 0.1],  # the reference's own scan: never retrieved
        [1.0, 0.8, 0.1, 0.0],  # mri s0001: a different scan
        [1.0, 0.0, 0.9, 0.0],
        [1.0, 0.9, 0.0, 0.1],  # same fingerprint values as the reference
        [1.0, 0.0, 0.0, 0.9],
    ]
)


def test_hand_built_retrieval():
    pool = _pool()
    dense = CODES[:, 1:] + 0.01
    settings = FingerprintSettings(["val"], 1, (1, 2), n_retrieved=2, report_k=2, seed=0)
    records, retrieved = retrieve_all(pool, sp.csr_matrix(CODES), dense, np.array([0]), settings)
    sparse_k2 = next(r for r in records if r["method"] == "sparse_fp" and r["k"] == 2)
    # fingerprint of row 0 = latents 1, 3 (latent 0 fires everywhere): row 4 has cosine 1,
    # row 2 (0.8, 0) cosine 0.994
    hits = [r["row_id"] for r in retrieved if r["method"] == "sparse_fp"]
    assert hits == [4, 2]
    assert sparse_k2["precision_modality"] == 0.5  # ct, mri
    assert sparse_k2["precision_orientation"] == 1.0
    assert sparse_k2["ap_over_retrieved_modality"] == 1.0  # the one relevant item ranks first
    # base rates over the rows of the other scans (2-5): ct 2/4, axial 4/4, f 1/4
    assert (
        sparse_k2["base_rate_modality"],
        sparse_k2["base_rate_orientation"],
        sparse_k2["base_rate_sex"],
    ) == (0.5, 1.0, 0.25)
    assert sparse_k2["precision_sex"] == 0.0  # None, m against f
    assert sparse_k2["structure_jaccard"] == pytest.approx(0.5)  # row 4: {liver} = 1, row 2: 0
    assert sparse_k2["n_retrieved"] == 2
    full = next(r for r in records if r["method"] == "dense_full")
    assert full["k"] is None and full["quality_mean"] <= 1.0


def test_run_is_seeded_and_summarised(tmp_path):
    pool = _pool()
    write_code_store(tmp_path / "c.zarr", sp.csr_matrix(CODES), {"index_hash": "x"})
    store = CodeStore(tmp_path / "c.zarr")
    dense = CODES[:, 1:] + 0.01
    settings = FingerprintSettings(["val"], 4, (1, 2, 5), n_retrieved=2, report_k=2, seed=3)
    first = run_fingerprint(pool, store, lambda rows: dense[rows], settings)
    again = run_fingerprint(pool, store, lambda rows: dense[rows], settings)
    assert first.per_reference.equals(again.per_reference)
    assert first.per_reference["reference_row_id"].n_unique() == 4
    summary = summarise(first.per_reference)
    sparse = summary.filter((pl.col("method") == "sparse_fp") & (pl.col("k") == 2)).row(
        0, named=True
    )
    full = summary.filter(pl.col("method") == "dense_full").row(0, named=True)
    assert sparse["relative_to_dense_full"] == pytest.approx(sparse["quality"] / full["quality"])
    assert full["relative_to_dense_full"] is None
    assert sparse["lift_modality"] == pytest.approx(
        sparse["precision_modality"] / sparse["base_rate_modality"]
    )


def test_base_rate_leaves_the_own_scan_and_missing_values_out():
    rates = base_rates(["ct", "ct", "mri", "ct", None], np.array([0, 0, 1, 2, 2]))
    np.testing.assert_allclose(rates[:4], [1 / 3, 1 / 3, 0.0, 2 / 3])
    assert np.isnan(rates[4])
