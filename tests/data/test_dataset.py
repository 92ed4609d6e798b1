from pathlib import Path

import polars as pl
import pytest

from sail_core.data.dataset import (
    DatasetError,
    build_subjects,
    check_subjects,
    discover_scan_keys,
    read_meta_csv,
)

SCHEMA = Path(__file__).parents[2] / "schemas" / "subjects.schema.yaml"
CT_HEADER = "image_id;age;gender;institute;study_type;split;manufacturer;scanner_model;kvp;pathology;pathology_location"
MRI_HEADER = (
    "image_id;age;gender;institute;study_type;split;manufacturer;scanner_model;"
    "magnetic_field_strength;scanning_sequence;echo_time;repetition_time;slice_thickness;source"
)


def _scan(root: Path, image_id: str, image: str) -> None:
    (root / image_id / "segmentations").mkdir(parents=True)
    (root / image_id / image).write_bytes(b"")
    (root / image_id / "segmentations" / "liver.nii.gz").write_bytes(b"")


@pytest.fixture
def tree(tmp_path):
    ct, mri = tmp_path / "CT_Dataset_v201", tmp_path / "MRI_Dataset_v200"
    ct.mkdir()
    mri.mkdir()
    (ct / "meta.csv").write_text(
        "\ufeff"
        + CT_HEADER
        + "\ns0000;45;f;A;  Thorax-Abdomen   ;train;siemens;Somatom;120.0;no_pathology;no_location"
        + "\ns0001;80;m;B;ct head;test;ge;Revolution;80.0;tumor;brain\n",
        encoding="utf-8",
    )
    (mri / "meta.csv").write_text(
        "\ufeff" + MRI_HEADER + "\ns0000;40;m;C;abdomen;train;siemens;Skyra;3.0;SE;80;4000;5;x\n",
        encoding="utf-8",
    )
    _scan(ct, "s0000", "ct.nii.gz")
    _scan(ct, "s0001", "ct.nii.gz")
    _scan(mri, "s0000", "mri.nii.gz")
    return {"ct": ct, "mri": mri}


def test_meta_csv_with_bom_and_semicolons(tree):
    meta = read_meta_csv(tree["ct"] / "meta.csv", "ct")
    assert meta.columns[0] == "image_id"
    assert "split" not in meta.columns
    assert meta["study_type"].to_list() == ["thorax-abdomen", "ct head"]
    assert meta.schema["age"] == pl.Float64 and meta.schema["kvp"] == pl.Float64


def test_subjects_table(tree):
    subjects = build_subjects(tree)
    assert subjects.select("modality", "image_id").rows() == [
        ("ct", "s0000"),
        ("ct", "s0001"),
        ("mri", "s0000"),
    ]
    assert "split" not in subjects.columns
    assert subjects["age_bin"].to_list() == ["40-60", ">=80", "40-60"]  # 80 is ">=80", 40 not "<40"
    assert subjects["problem"].null_count() == 3
    assert subjects.filter(pl.col("modality") == "mri")["magnetic_field_strength"].item() == 3.0
    assert check_subjects(subjects, SCHEMA, on_bad_scan="fail")["problem"].null_count() == 3


def test_scan_keys_include_folders_and_meta_rows(tree):
    _scan(tree["ct"], "s0009", "ct.nii.gz")
    keys = discover_scan_keys(tree)
    assert ("ct", "s0009") in keys and ("mri", "s0000") in keys


@pytest.mark.parametrize(
    ("change", "scan", "reason"),
    [
        (lambda t: _scan(t["ct"], "s0007", "ct.nii.gz"), "ct/s0007", "no row in"),
        (lambda t: _scan(t["ct"], "scan7", "ct.nii.gz"), "ct/scan7", "not 's' followed by digits"),
        (lambda t: (t["ct"] / "s0001" / "ct.nii.gz").unlink(), "ct/s0001", "missing image file"),
    ],
)
def test_scan_problems_are_named(tree, change, scan, reason):
    change(tree)
    subjects = check_subjects(build_subjects(tree), SCHEMA, on_bad_scan="quarantine")
    modality, image_id = scan.split("/")
    row = subjects.filter((pl.col("modality") == modality) & (pl.col("image_id") == image_id))
    assert reason in row["problem"].item()
    with pytest.raises(DatasetError, match=scan):
        check_subjects(build_subjects(tree), SCHEMA, on_bad_scan="fail")


def test_schema_violation_becomes_a_problem(tree):
    text = (tree["ct"] / "meta.csv").read_text(encoding="utf-8").replace(";f;A;", ";x;A;")
    (tree["ct"] / "meta.csv").write_text(text, encoding="utf-8")
    subjects = check_subjects(build_subjects(tree), SCHEMA, on_bad_scan="quarantine")
    assert "gender" in subjects.filter(pl.col("image_id") == "s0000")["problem"][0]


def test_missing_column_is_a_dataset_error(tree):
    (tree["mri"] / "meta.csv").write_text("image_id;age\ns0000;3\n")
    with pytest.raises(DatasetError, match="missing column"):
        build_subjects(tree)
