import random

import polars as pl
import pytest

from sail_core.embed.shards import assign_shards, shard_rows

SCAN_IDS = [f"ct/s{i:04d}" for i in range(11)] + [f"mri/s{i:04d}" for i in range(5)]


def test_shards_do_not_depend_on_the_order_scans_are_listed_in():
    shuffled = SCAN_IDS[:]
    random.Random(1).shuffle(shuffled)
    assert assign_shards(shuffled, 4) == assign_shards(SCAN_IDS, 4)


def test_shards_are_consecutive_blocks_covering_every_scan_once():
    shards = assign_shards(SCAN_IDS, 4)
    assert [len(s) for s in shards] == [4, 4, 4, 4]
    assert [scan for shard in shards for scan in shard] == SCAN_IDS
    assert assign_shards(SCAN_IDS, 100) == [SCAN_IDS]


def test_every_index_row_lands_in_exactly_one_shard(slice_store):
    scans = slice_store.index.select(pl.concat_str("modality", "image_id", separator="/"))
    shards = assign_shards(scans.to_series().unique().to_list(), 3)
    parts = [shard_rows(slice_store.index, scan_ids, k) for k, scan_ids in enumerate(shards)]
    row_ids = [r for part in parts for r in part["row_id"].to_list()]
    assert row_ids == list(range(slice_store.index.height))


def test_rows_of_scans_that_are_not_neighbours_are_refused(slice_store):
    with pytest.raises(ValueError, match="shard 2: .*not one contiguous"):
        shard_rows(slice_store.index, ["ct/s0001", "mri/s0001"], 2)


@pytest.mark.parametrize(
    ("scan_ids", "size", "message"),
    [(["ct/s0001", "ct/s0001"], 2, "duplicated"), (SCAN_IDS, 0, "at least 1"),
     (["s0001"], 1, "not a scan id")],
)  # fmt: skip
def test_bad_input_is_refused(scan_ids, size, message):
    with pytest.raises(ValueError, match=message):
        assign_shards(scan_ids, size)
