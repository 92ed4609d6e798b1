import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core.mine.mining import stream_features
from sail_core.mine.rows import scan_codes
from sail_core.mine.synthetic import planted_codes, synthetic_index
from sail_core.sae.codes import CodeStore, write_code_store


def _index(keys, splits=None):
    """Index rows from (modality, image_id) pairs, one slice each."""
    return pl.DataFrame(
        {
            "row_id": np.arange(len(keys), dtype=np.int64),
            "modality": [m for m, _ in keys],
            "image_id": [i for _, i in keys],
            "orientation": ["axial"] * len(keys),
            "index": np.arange(len(keys), dtype=np.int32),
            "split": splits or ["val"] * len(keys),
        }
    )


def _store(tmp_path, codes):
    write_code_store(tmp_path / "codes.zarr", sp.csr_matrix(codes), {"index_hash": "h"})
    return CodeStore(tmp_path / "codes.zarr")


def brute_force_top(codes, scans, n_top):
    """Per feature: the best row of each scan, the n best scans (ties: smaller row id)."""
    dense = codes.toarray()
    expected = []
    for feature in range(dense.shape[1]):
        best = {}
        for row in np.flatnonzero(dense[:, feature] > 0):
            value = dense[row, feature]
            scan = scans[row]
            if scan not in best or value > best[scan][0]:
                best[scan] = (value, row)
        ranked = sorted(best.values(), key=lambda vr: (-vr[0], vr[1]))[:n_top]
        expected += [(feature, rank, row) for rank, (_, row) in enumerate(ranked)]
    return expected


def test_ct_and_mri_scans_with_the_same_image_id_stay_apart(tmp_path):
    index = _index([("ct", "s0001"), ("ct", "s0001"), ("mri", "s0001"), ("mri", "s0002")])
    codes = np.array([[0.9], [0.8], [0.7], [0.1]], dtype=np.float32)
    _, top = stream_features(index, _store(tmp_path, codes), ["val"], 3, chunk_rows=2)
    assert top["row_id"].to_list() == [0, 2, 3]
    scans, names = scan_codes(index)
    assert names == ["ct/s0001", "mri/s0001", "mri/s0002"]
    assert scans.tolist() == [0, 0, 1, 2]


@pytest.mark.parametrize("chunk_rows", [1, 13, 10_000])
def test_chunked_mining_equals_the_in_memory_answer(tmp_path, chunk_rows):
    index = synthetic_index(600, 30, seed=3)
    codes = planted_codes(index, 40, 6, {"liver": 1, "brain": 2}, seed=3)
    store = _store(tmp_path, codes)
    stats, top = stream_features(index, store, ["train", "val", "test"], 7, chunk_rows)
    whole_stats, whole_top = stream_features(index, store, ["train", "val", "test"], 7, 10**6)
    assert stats.equals(whole_stats)
    assert top.equals(whole_top)
    scans, _ = scan_codes(index)
    assert list(top.select("feature", "rank", "row_id").iter_rows()) == brute_force_top(
        codes, scans, 7
    )
    dense = codes.toarray()
    assert stats["n_fires"].to_list() == (dense > 0).sum(axis=0).tolist()
    np.testing.assert_allclose(stats["max_activation"], dense.max(axis=0), rtol=1e-6)
    liver_scans = index.filter(pl.col("structure_liver")).select("modality", "image_id").unique()
    assert stats["n_scans"][1] == liver_scans.height


def test_rows_of_other_splits_are_ignored(tmp_path):
    index = _index([("ct", "s0001"), ("ct", "s0002"), ("ct", "s0003")], ["train", "val", "val"])
    codes = np.array([[1.0, 0.0], [0.5, 0.0], [0.2, 0.3]], dtype=np.float32)
    stats, top = stream_features(index, _store(tmp_path, codes), ["val"], 5, chunk_rows=1)
    assert top.filter(pl.col("feature") == 0)["row_id"].to_list() == [1, 2]
    assert stats["n_fires"].to_list() == [2, 1]
    assert stats["frequency"].to_list() == [1.0, 0.5]
    assert stats["always_active"].to_list() == [True, False]
    assert stats["mean_when_active"][0] == pytest.approx(0.35)
