import polars as pl
import pytest

from sail_core.data.index import build_index, read_index, write_index
from sail_core.io import write_parquet


def _table(modality, image_id, orientations, structure):
    rows = [(o, i) for o in orientations for i in (3, 1)]
    return pl.DataFrame(
        {
            "modality": modality,
            "image_id": image_id,
            "orientation": [o for o, _ in rows],
            "index": pl.Series([i for _, i in rows], dtype=pl.Int32),
            "array_pos": pl.Series(list(range(len(rows))), dtype=pl.Int32),
            f"structure_{structure}": [True] * len(rows),
        }
    )


def test_index_order_fill_and_hash(tmp_path):
    tables = [
        _table("mri", "s0001", ["axial"], "lung_left"),
        _table("ct", "s0001", ["sagittal", "axial"], "liver"),
    ]
    split = pl.DataFrame(
        {"modality": ["ct", "mri"], "image_id": ["s0001", "s0001"], "split": ["train", "val"]}
    )
    index = build_index(tables, split)
    assert index["row_id"].to_list() == list(range(6))
    assert index.select("modality", "orientation", "index").rows()[:3] == [
        ("ct", "axial", 1),
        ("ct", "axial", 3),
        ("ct", "sagittal", 1),
    ]
    assert index.filter(pl.col("modality") == "mri")["structure_liver"].to_list() == [False, False]
    path = tmp_path / "index.parquet"
    digest = write_index(index, path)
    df, read_digest = read_index(path)
    assert read_digest == digest and df.equals(index)
    write_parquet(index.reverse(), path, metadata={"index_hash": digest})
    with pytest.raises(ValueError, match="does not match"):
        read_index(path)


def test_scan_without_split_is_an_error():
    split = pl.DataFrame({"modality": ["ct"], "image_id": ["s0002"], "split": ["train"]})
    with pytest.raises(ValueError, match="ct/s0001"):
        build_index([_table("ct", "s0001", ["axial"], "liver")], split)
