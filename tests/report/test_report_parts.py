import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from sail_core.report.figures import example_rows, level_widths
from sail_core.report.files import DataFiles, SaeFiles, atlas_inputs
from sail_core.report.sources import Missing, load_json, load_png, load_table, nested
from sail_core.report.thumbnails import thumbnails


def test_missing_and_broken_files_become_reasons(tmp_path):
    assert load_json(tmp_path / "a.json") == Missing(f"{tmp_path / 'a.json'} does not exist")
    (tmp_path / "bad.json").write_text("{not json")
    assert "cannot be read (JSONDecodeError" in load_json(tmp_path / "bad.json").reason
    (tmp_path / "list.json").write_text("[1]")
    assert load_json(tmp_path / "list.json").reason.endswith("holds a JSON list, not an object")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
    assert "cannot be read" in load_table(tmp_path / "bad.parquet").reason
    assert isinstance(load_png(tmp_path / "none.png"), Missing)


def test_tables_are_checked_for_columns_and_read_selectively(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"a": [1], "b": [2], "c": [3]}).write_parquet(path)
    assert load_table(path, ("a", "z", "y")) == Missing(f"{path} lacks column(s) z, y")
    assert load_table(path, ("c", "a"), only_these=True).columns == ["c", "a"]
    assert load_table(path, ("a",)).columns == ["a", "b", "c"]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("split\tscans\ntrain\t3\n")
    assert load_table(tsv, ("split",)).to_dicts() == [{"split": "train", "scans": 3}]


def test_nested_lookup_stops_at_absent_levels():
    tree = {"val": {"overall": {"fvu": 0.2}}, "list": [1]}
    assert nested(tree, "val", "overall", "fvu") == 0.2
    assert nested(tree, "test", "overall") is None
    assert nested(tree, "list", "x") is None


def test_layout_round_trips_through_the_index_path():
    data = DataFiles(Path("results"))
    assert DataFiles.of_index(data.index) == data
    files = SaeFiles(Path("results"), "enc", "D8_K2", "offline")
    inputs = [str(p) for p in files.inputs()]
    assert "results/labels/enc/D8_K2/offline.evaluation.json" in inputs
    assert "results/retrieval/enc/D8_K2/offline/precision.parquet" in inputs
    assert str(files.panel(7)) == "results/features/enc/D8_K2/panels/feature_00007.png"


def test_atlas_inputs_name_every_file_of_the_selected_saes_and_the_ranked_configs():
    configs = {"a": ["D8_K2", "D16_K4"], "b": ["D8_K2"]}
    inputs = atlas_inputs(
        Path("results"), [("a", "D16_K4")], "offline", configs.get, ["results/slices/ct/s1.zarr"]
    )
    assert inputs["index"] == ["results/slices/index.parquet"]
    assert inputs["rankings"] == ["results/eval/ranking/a.parquet"]
    assert inputs["config_metrics"] == [
        "results/sae/a/D8_K2/metrics.json",
        "results/sae/a/D16_K4/metrics.json",
    ]
    assert inputs["slices"] == ["results/slices/ct/s1.zarr"]
    files = SaeFiles(Path("results"), "a", "D16_K4", "offline")
    assert inputs["saes"] == [str(p) for p in files.inputs()]
    assert "results/report/figures/example_slices.png" in inputs["data"]


def test_example_rows_take_the_middle_slice_of_evenly_spread_scans():
    index = pl.DataFrame(
        {
            "modality": ["ct"] * 15 + ["mri"] * 2,
            "image_id": [f"s{i // 3}" for i in range(15)] + ["s0", "s0"],
            "orientation": ["axial"] * 15 + ["sagittal"] * 2,
            "index": list(range(15)) + [4, 5],
            "array_pos": list(range(15)) + [0, 1],
        }
    )
    rows = example_rows(index, 3)
    assert rows.select("modality", "image_id", "index").rows() == [
        ("ct", "s0", 1),
        ("ct", "s2", 7),
        ("ct", "s4", 13),
        ("mri", "s0", 5),
    ]


def test_level_widths_come_from_any_split_of_the_metrics():
    metrics = {"val": {"levels": [{"width": 8}, {"width": 32}]}}
    assert level_widths(metrics) == [8, 32]
    assert level_widths({"calibration": {}}) == []


def test_thumbnails_follow_row_ids_and_name_unknown_ones():
    index = pl.DataFrame(
        {
            "row_id": [0, 1],
            "modality": ["ct", "ct"],
            "image_id": ["s0", "s0"],
            "orientation": ["axial", "axial"],
            "array_pos": [0, 1],
        }
    )

    class Reader:
        def read(self, rows):
            return np.stack([np.full((8, 8), 50 * p, np.uint8) for p in rows["array_pos"]])

    pngs = thumbnails([1, 0, 1], index, Reader(), 16)
    assert list(pngs) == [1, 0]
    image = Image.open(io.BytesIO(pngs[1]))
    assert image.size == (16, 16) and image.getpixel((3, 3)) == 50
    with pytest.raises(ValueError, match=r"row ids not in the slice index: \[7\]"):
        thumbnails([7], index, Reader(), 16)
