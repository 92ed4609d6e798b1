import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from sail_core.data.dataset import (
    DatasetError,
    build_subjects,
    check_subjects,
    discover_scan_keys,
    read_meta_csv,
    rows_without_scan_job,
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


BAD_ROWS = {
    "../../etc": "not 's' followed by digits",
    "s0004/../s0000": "not 's' followed by digits",
    "s00 05": "not 's' followed by digits",
    "s0006\x07": "not 's' followed by digits",
    "S0007": "not 's' followed by digits",
    "": "not 's' followed by digits",
    "s0002": "appears on 2 rows",
    "s0003": "folder",
}


@pytest.fixture
def messy_tree(tree):
    """Good scans plus every kind of bad meta.csv row."""
    row = ";50;m;A;abdomen;train;ge;X;120;no_pathology;no_location"
    ids = ["../../etc", "s0004/../s0000", "s00 05", "s0006\x07", "S0007", "", "s0002", "s0002"]
    ids.append("s0003")
    with open(tree["ct"] / "meta.csv", "a", encoding="utf-8") as meta:
        meta.writelines(f'"{i}"{row}\n' for i in ids)
    _scan(tree["ct"], "s0002", "ct.nii.gz")
    return tree


def test_every_meta_row_is_judged_on_its_own(messy_tree):
    keys = discover_scan_keys(messy_tree)
    assert keys == [("ct", f"s000{i}") for i in range(4)] + [("mri", "s0000")]
    subjects = check_subjects(build_subjects(messy_tree), SCHEMA, on_bad_scan="quarantine")
    problems = dict(
        subjects.filter(pl.col("modality") == "ct").select("image_id", "problem").rows()
    )
    assert problems["s0000"] is None and problems["s0001"] is None
    for image_id, reason in BAD_ROWS.items():
        assert reason in problems[image_id], image_id
    unsliced = rows_without_scan_job(subjects)
    no_scan_job = [i for i in BAD_ROWS if i not in ("s0002", "s0003")]
    assert sorted(unsliced["image_id"]) == sorted(no_scan_job)
    assert unsliced["reason"].null_count() == 0


def test_fail_mode_names_every_bad_row_in_one_error(messy_tree):
    with pytest.raises(DatasetError) as err:
        check_subjects(build_subjects(messy_tree), SCHEMA, on_bad_scan="fail")
    for image_id in BAD_ROWS:
        assert f"ct/{image_id} (" in str(err.value), image_id


def test_an_unreadable_meta_csv_leaves_the_folders_as_scan_keys(tree):
    (tree["ct"] / "meta.csv").write_text("image_id;age\ns0000;3\n")
    assert discover_scan_keys(tree) == [("ct", "s0000"), ("ct", "s0001"), ("mri", "s0000")]


@pytest.mark.parametrize("only", ["ct", "mri"])
def test_a_dataset_with_one_modality(tree, only):
    roots = {modality: (root if modality == only else None) for modality, root in tree.items()}
    assert {m for m, _ in discover_scan_keys(roots)} == {only}
    subjects = check_subjects(build_subjects(roots), SCHEMA, on_bad_scan="fail")
    assert (
        set(subjects["modality"]) == {only} and subjects["problem"].null_count() == subjects.height
    )


def test_no_meta_csv_content_breaks_the_job_graph(messy_tree, tmp_path):
    """A CT-only dataset with every kind of bad row: the plan slices the usable ids only."""
    repo = Path(__file__).parents[2]
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["dataset"] |= {"source": "totalsegmentator", "ct_root": str(messy_tree["ct"])}
    config["dataset"]["mri_root"] = None
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--dry-run", "--cores", "1", "results/slices/index.parquet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    planned = re.findall(r"results/slices/(\w+)/([^\s,]+)\.parquet", out)
    assert sorted(set(planned)) == [("ct", f"s000{i}") for i in range(4)]
