"""Matching, stability and alignment on synthetic codes whose answer is known by construction."""

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core.sae.codes import write_code_store
from sail_core.universality.alignment import (
    NullSettings,
    align_features,
    scan_block_permutation,
)
from sail_core.universality.concepts import shared_concepts, unique_features
from sail_core.universality.matching import (
    activation_correlation,
    check_same_slices,
    feature_levels,
    read_split_codes,
)
from sail_core.universality.stability import (
    SaeRun,
    TwinThresholds,
    seed_stability,
    stability_summary,
)


def sparse_codes(n_rows: int, n_features: int, seed: int, density: float = 0.1) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    fires = rng.random((n_rows, n_features)) < density
    return sp.csr_matrix(fires * rng.uniform(0.5, 2.0, size=fires.shape), dtype=np.float32)


def test_correlation_over_chunks_equals_the_dense_pearson_matrix():
    a, b = sparse_codes(500, 7, 0), sparse_codes(500, 5, 1)
    expected = np.corrcoef(a.toarray().T, b.toarray().T)[:7, 7:]
    assert np.allclose(activation_correlation(a, b, chunk_rows=64), expected, atol=1e-6)


def test_codes_of_other_slices_are_refused_by_name(tmp_path):
    codes = sparse_codes(20, 4, 0)
    write_code_store(tmp_path / "a.zarr", codes, {"index_hash": "aaa"})
    write_code_store(tmp_path / "b.zarr", codes, {"index_hash": "bbb"})
    write_code_store(tmp_path / "c.zarr", codes, {"index_hash": "aaa"})
    check_same_slices(tmp_path / "a.zarr", tmp_path / "c.zarr")
    with pytest.raises(ValueError, match=r"b\.zarr do not code the same slices.*bbb"):
        check_same_slices(tmp_path / "a.zarr", tmp_path / "b.zarr")
    rows = np.array([3, 7, 19])
    read = read_split_codes(tmp_path / "a.zarr", rows, "aaa", chunk_rows=4)
    assert np.array_equal(read.toarray(), codes[rows].toarray())


def test_scan_shuffle_moves_every_scan_and_keeps_its_rows_together():
    scans = np.repeat(np.arange(6), [3, 5, 2, 4, 4, 1])
    order = scan_block_permutation(scans, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(scans.size))
    shuffled = scans[order]
    blocks = [shuffled[0]] + [s for p, s in zip(shuffled, shuffled[1:], strict=False) if s != p]
    assert len(blocks) == 6  # each scan is one contiguous block
    assert all(blocks[slot] != slot for slot in range(6))


def test_feature_levels_follow_the_nested_widths():
    assert feature_levels([2, 5, 8]).tolist() == [0, 0, 1, 1, 1, 2, 2, 2]


def test_a_permuted_copy_is_stable_and_its_twins_are_found():
    codes = sparse_codes(400, 8, 0)
    decoder = np.random.default_rng(0).normal(size=(8, 6))
    permutation = np.random.default_rng(1).permutation(8)
    same = SaeRun(decoder[permutation], sp.csr_matrix(codes.toarray()[:, permutation]))
    noise = SaeRun(np.random.default_rng(2).normal(size=(8, 6)), sparse_codes(400, 8, 3))
    main = SaeRun(decoder, codes)
    twins, features = seed_stability(
        main, {1: same, 2: noise}, [4, 8], TwinThresholds(0.7, 0.5), chunk_rows=50
    )
    seed_1 = twins.filter(pl.col("seed") == 1).sort("feature")
    assert permutation[seed_1["twin"].to_numpy()].tolist() == list(range(8))
    assert np.allclose(seed_1["cosine"], 1.0) and np.allclose(seed_1["correlation"], 1.0)
    assert (features["seeds_with_twin"] == 1).all() and not features["stable"].any()
    only_same = seed_stability(main, {1: same}, [4, 8], TwinThresholds(0.7, 0.5), 50)[1]
    assert only_same["stable"].all() and np.allclose(only_same["stability"], 1.0)

    summary = stability_summary(only_same, labelled=[0, 5], widths=[4, 8])
    labelled = summary.filter((pl.col("features") == "labelled") & (pl.col("level") == "all"))
    assert labelled["n_features"].item() == 2 and labelled["fraction_stable"].item() == 1.0
    level_1 = summary.filter((pl.col("features") == "all") & (pl.col("level") == "1:D8"))
    assert level_1["n_features"].item() == 4


def test_alignment_finds_planted_shared_features_and_leaves_the_rest_unique():
    rng = np.random.default_rng(0)
    scans = np.repeat(np.arange(30), 20)
    # scan-level concepts: a concept is on or off for a whole scan, then varies per slice
    concepts = (rng.random((30, 6)) < 0.4)[scans] * rng.uniform(0.5, 1.5, size=(600, 6))
    concepts *= rng.random((600, 6)) < 0.7
    own_a, own_b = sparse_codes(600, 3, 5).toarray(), sparse_codes(600, 3, 6).toarray()
    split_off = concepts[:, :1] * (rng.random((600, 1)) < 0.8)  # fires on most of concept 0
    a = sp.csr_matrix(np.hstack([concepts[:, :4], own_a, split_off]))  # shares concepts 0-3
    b = sp.csr_matrix(np.hstack([own_b, concepts[:, [2, 0, 3, 1]]]))
    table, summary = align_features(a, b, scans, NullSettings(10, 0.99, 0), chunk_rows=128)
    side_a = table.filter(pl.col("side") == "a").sort("feature")
    assert side_a["twin"].to_list()[:4] == [4, 6, 3, 5]
    assert (side_a["twin"].to_numpy()[4:] == -1).all()
    assert side_a["unique"].to_list() == [False] * 4 + [True] * 3 + [False]
    assert summary["shared"] == 4 and summary["unique_a"] == 3 and summary["unique_b"] == 3
    assert summary["no_twin_correlated_a"] == 1

    labels_a = pl.DataFrame({"feature": [0, 5], "label": ["liver", "noise"]})
    shared = shared_concepts(table, labels_a, None)
    assert (
        shared.height == 4 and shared.filter(pl.col("feature_a") == 0)["label_a"].item() == "liver"
    )
    enrichment = pl.DataFrame(
        {"feature": [5, 5], "attribute": ["structure", "structure"], "value": ["lung", "rib"],
         "log_odds_ratio": [1.0, 2.0]}
    )  # fmt: skip
    unique = unique_features(table, "a", labels_a, enrichment, n_structures=1)
    assert unique["feature"].to_list() == [5, 4, 6]
    assert unique.row(0, named=True)["top_structures"] == ["rib"]
