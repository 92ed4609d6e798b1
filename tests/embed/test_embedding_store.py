import numpy as np
import pytest
import zarr

from sail_core.embed.store import (
    load_embeddings,
    open_embeddings,
    shard_attrs,
    write_embeddings,
)


def write(path, rows, dim=4, index_hash="h1"):
    embeddings = (
        np.arange(len(rows) * dim, dtype=np.float32).reshape(len(rows), dim) + rows[0] * 100
    )
    write_embeddings(path, embeddings, np.asarray(rows), {"index_hash": index_hash})
    return embeddings


def test_shards_open_as_one_array_in_row_order_whatever_the_path_order(tmp_path):
    first = write(tmp_path / "shard-0.zarr", range(0, 3))
    second = write(tmp_path / "shard-1.zarr", range(3, 8))
    empty = tmp_path / "shard-2.zarr"
    write_embeddings(
        empty, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), {"index_hash": "h1"}
    )
    paths = [tmp_path / "shard-1.zarr", empty, tmp_path / "shard-0.zarr"]
    array = open_embeddings(paths, index_hash="h1")
    assert array.shape == (8, 4)
    np.testing.assert_array_equal(array.compute(), np.concatenate([first, second]))
    np.testing.assert_array_equal(load_embeddings(paths, row_ids=[6, 1]), [second[3], first[1]])


@pytest.mark.parametrize(
    ("second_rows", "message"),
    [(range(4, 8), "do not continue"), (range(2, 6), "do not continue"), ([3, 5, 4], "do not continue")],
)  # fmt: skip
def test_gaps_overlaps_and_unordered_rows_are_refused(tmp_path, second_rows, message):
    write(tmp_path / "a.zarr", range(0, 3))
    write(tmp_path / "b.zarr", list(second_rows))
    with pytest.raises(ValueError, match=message):
        open_embeddings([tmp_path / "a.zarr", tmp_path / "b.zarr"])


def test_a_shard_of_another_index_is_refused(tmp_path):
    write(tmp_path / "a.zarr", range(0, 3))
    write(tmp_path / "b.zarr", range(3, 5), index_hash="h2")
    with pytest.raises(ValueError, match="b.zarr: index hash h2 differs"):
        open_embeddings([tmp_path / "a.zarr", tmp_path / "b.zarr"])
    with pytest.raises(ValueError, match="a.zarr: index hash h1 differs from h2"):
        load_embeddings([tmp_path / "a.zarr"], index_hash="h2")


def test_missing_shard_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.zarr"):
        open_embeddings([tmp_path / "absent.zarr"])


def test_shard_attrs_come_from_a_checked_shard(tmp_path):
    write(tmp_path / "a.zarr", range(0, 3))
    assert shard_attrs(tmp_path / "a.zarr") == {"index_hash": "h1"}
    zarr.open_group(tmp_path / "bare.zarr", mode="w").attrs.update({"kind": "hf"})
    with pytest.raises(ValueError, match="bare.zarr: not an embedding shard"):
        shard_attrs(tmp_path / "bare.zarr")


@pytest.mark.parametrize(
    ("embeddings", "row_ids", "message"),
    [
        (np.zeros((3, 4), np.float64), np.arange(3), "embeddings are float64"),
        (np.zeros(3, np.float32), np.arange(3), r"embeddings are float32 \(3,\)"),
        (np.zeros((3, 4), np.float32), np.arange(3, dtype=np.int32), "row ids are int32"),
        (np.zeros((3, 4), np.float32), np.arange(2), r"row ids are int64 \(2,\)"),
    ],
    ids=["float64", "flat", "int32-ids", "short-ids"],
)
def test_a_shard_of_unexpected_layout_is_refused(tmp_path, embeddings, row_ids, message):
    # deliberately malformed, so written by hand rather than by write_embeddings
    group = zarr.open_group(tmp_path / "odd.zarr", mode="w")
    group.create_array("embeddings", data=embeddings)
    group.create_array("row_ids", data=row_ids)
    group.attrs["index_hash"] = "h1"
    with pytest.raises(ValueError, match=f"odd.zarr: {message}"):
        open_embeddings([tmp_path / "odd.zarr"])
