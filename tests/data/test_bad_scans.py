import gzip
import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import polars as pl
import pytest
import torch
import yaml
import zarr

from sail_core.data.errors import BadScanError
from sail_core.data.slicing import SlicingParams, select_subject, slice_scan

SCRIPT = Path(__file__).parents[2] / "workflow_scripts" / "slice_subject.py"
SHAPE = (12, 12, 12)


def write_scan(folder, image=None, masks=None, affine=None):
    """A small valid CT scan folder; arguments replace its parts."""
    affine = np.eye(4) if affine is None else affine
    image = np.full(SHAPE, 40, np.int16) if image is None else image
    if masks is None:
        liver = np.zeros(SHAPE, np.uint8)
        liver[4:8, 4:8, 4:8] = 1
        masks = {"liver": (liver, affine), "spleen": (np.zeros(SHAPE, np.uint8), affine)}
    (folder / "segmentations").mkdir(parents=True)
    nib.save(nib.Nifti1Image(image, affine), folder / "ct.nii.gz")
    for name, (mask, mask_affine) in masks.items():
        nib.save(nib.Nifti1Image(mask, mask_affine), folder / "segmentations" / f"{name}.nii.gz")
    return folder / "ct.nii.gz", folder / "segmentations"


def truncated(folder):
    image_path, segmentations = write_scan(folder)
    image_path.write_bytes(image_path.read_bytes()[: image_path.stat().st_size // 2])
    return image_path, segmentations, "ct head"


def not_a_nifti(folder):
    image_path, segmentations = write_scan(folder)
    image_path.write_bytes(gzip.compress(b"this is not a NIfTI header" * 20))
    return image_path, segmentations, "ct head"


def four_d(folder):
    return *write_scan(folder, image=np.zeros((*SHAPE, 2), np.int16)), "ct head"


def with_nans(folder):
    image = np.full(SHAPE, 40.0, np.float32)
    image[3, 3, 3] = np.nan
    return *write_scan(folder, image=image), "ct head"


def mask_of_other_shape(folder):
    masks = {"liver": (np.ones((12, 12, 11), np.uint8), np.eye(4))}
    return *write_scan(folder, masks=masks), "ct head"


def mask_of_other_affine(folder):
    shifted = np.eye(4)
    shifted[:3, 3] = (5.0, 0.0, 0.0)
    masks = {"liver": (np.ones(SHAPE, np.uint8), shifted)}
    return *write_scan(folder, masks=masks), "ct head"


def truncated_mask(folder):
    image_path, segmentations = write_scan(folder)
    mask = segmentations / "liver.nii.gz"
    mask.write_bytes(mask.read_bytes()[:60])
    return image_path, segmentations, "ct head"


def unknown_study_type(folder):
    return *write_scan(folder), "ct foot"


def all_empty_masks(folder):
    empty = np.zeros(SHAPE, np.uint8)
    masks = {"liver": (empty, np.eye(4)), "spleen": (empty, np.eye(4))}
    return *write_scan(folder, masks=masks), "ct head"


def no_masks(folder):
    return *write_scan(folder, masks={}), "ct head"


@pytest.mark.parametrize(
    ("spoil", "file", "reason"),
    [
        (truncated, "ct.nii.gz", "unreadable NIfTI"),
        (not_a_nifti, "ct.nii.gz", "unreadable NIfTI"),
        (four_d, "ct.nii.gz", r"expected a 3-D volume, got shape \(12, 12, 12, 2\)"),
        (with_nans, "ct.nii.gz", "1 NaN or infinite voxel"),
        (mask_of_other_shape, "liver.nii.gz", "mask shape .* differs from image shape"),
        (mask_of_other_affine, "liver.nii.gz", "mask affine differs from the image affine"),
        (truncated_mask, "liver.nii.gz", "unreadable NIfTI"),
        (unknown_study_type, "ct.nii.gz", "unknown CT study type 'ct foot'"),
        (all_empty_masks, "segmentations", "all 2 masks are empty"),
        (no_masks, "segmentations", "no .nii.gz mask"),
    ],
)
def test_bad_input_names_scan_file_and_reason(tmp_path, spoil, file, reason):
    image_path, segmentations, study_type = spoil(tmp_path / "s0001")
    with pytest.raises(BadScanError, match=reason) as caught:
        slice_scan("ct", "s0001", image_path, segmentations, study_type, SlicingParams(size=8))
    error = caught.value
    assert error.scan == "ct/s0001"
    assert Path(error.path).name == file
    assert str(error).startswith(f"ct/s0001 ({error.path}): ")


def subjects_table(rows):
    base = {"modality": "ct", "image_id": "s0001", "study_type": "ct head", "age": 50.0}
    return pl.DataFrame([base | {"problem": None} | row for row in rows])


def test_scan_missing_from_or_flagged_in_the_subject_table(tmp_path):
    table = subjects_table([{"image_path": "x/ct.nii.gz", "segmentation_dir": "x/seg"}])
    with pytest.raises(BadScanError, match="ct/s0002: 0 rows in the subject table"):
        select_subject(table, "ct", "s0002")
    flagged = table.with_columns(pl.lit("no row in meta.csv").alias("problem"))
    with pytest.raises(BadScanError, match=r"ct/s0001 \(x/ct.nii.gz\): no row in meta.csv"):
        select_subject(flagged, "ct", "s0001")
    assert select_subject(table, "ct", "s0001").height == 1


@pytest.fixture
def run_script(tmp_path):
    """Run the slice_subject adapter as Snakemake would, restoring global state afterwards."""
    root = logging.getLogger()
    handlers, level, threads = root.handlers[:], root.level, torch.get_num_threads()

    def run(image_id, study_type, on_bad_scan):
        image_path, segmentations = write_scan(tmp_path / "data" / image_id)
        subjects = subjects_table(
            [
                {
                    "image_id": image_id,
                    "study_type": study_type,
                    "image_path": str(image_path),
                    "segmentation_dir": str(segmentations),
                }
            ]
        )
        subjects.write_parquet(tmp_path / "subjects.parquet")
        out = tmp_path / "results" / "slices" / "ct"
        snakemake = SimpleNamespace(
            input=SimpleNamespace(subjects=str(tmp_path / "subjects.parquet")),
            output=SimpleNamespace(store=str(out / "s0001.zarr"), table=str(out / "s0001.parquet")),
            wildcards=SimpleNamespace(modality="ct", image_id="s0001"),
            params=SimpleNamespace(
                size=8,
                presence_min_voxels=1,
                mri_percentiles=[1, 99],
                on_bad_scan=on_bad_scan,
                seed=3,
            ),
            log=[str(tmp_path / "slice.log")],
            threads=1,
        )
        runpy.run_path(str(SCRIPT), init_globals={"snakemake": snakemake})
        store = zarr.open_group(snakemake.output.store, mode="r")
        return store, pl.read_parquet(snakemake.output.table), (tmp_path / "slice.log").read_text()

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)
    torch.set_num_threads(threads)


def test_script_slices_a_good_scan(run_script):
    store, table, _ = run_script("s0001", "ct head", "fail")
    assert not store.attrs["quarantined"] and store.attrs["slicing"]["seed"] == 3
    assert set(store.array_keys()) == {"axial", "coronal", "sagittal"}
    assert table.height == 12 and table["age"].unique().to_list() == [50.0]


def test_script_quarantines_a_bad_scan(run_script):
    store, table, log = run_script("s0001", "ct foot", "quarantine")
    assert store.attrs["quarantined"] is True
    assert "unknown CT study type" in store.attrs["reason"]
    assert store.attrs["path"].endswith("ct.nii.gz")
    assert list(store.array_keys()) == []
    assert table.height == 0
    assert table.schema == {
        "modality": pl.Utf8, "image_id": pl.Utf8, "orientation": pl.Utf8,
        "index": pl.Int32, "array_pos": pl.Int32,
    }  # fmt: skip
    assert "ct/s0001" in log and "unknown CT study type" in log


def test_script_quarantines_a_scan_missing_from_the_subject_table(run_script):
    store, table, _ = run_script("s0007", "ct head", "quarantine")
    assert store.attrs["quarantined"] is True and "0 rows" in store.attrs["reason"]
    assert table.height == 0


def test_script_fails_on_a_bad_scan_when_asked(run_script):
    with pytest.raises(BadScanError, match="ct/s0001 .*unknown CT study type"):
        run_script("s0001", "ct foot", "fail")


FAILING_JOB = """
import runpy, sys
from types import SimpleNamespace
import polars as pl



class Wildcards(SimpleNamespace):
    def items(self):
        return vars(self).items()


tmp = sys.argv[1]
pl.DataFrame([{{
    "modality": "ct", "image_id": "s0001", "study_type": "ct head", "problem": None,
    "image_path": tmp + "/gone/ct.nii.gz", "segmentation_dir": tmp + "/gone/segmentations",
}}]).write_parquet(tmp + "/subjects.parquet")
snakemake = SimpleNamespace(
    rule="slice_subject",
    input=SimpleNamespace(subjects=tmp + "/subjects.parquet"),
    output=SimpleNamespace(store=tmp + "/s0001.zarr", table=tmp + "/s0001.parquet"),
    wildcards=Wildcards(modality="ct", image_id="s0001"),
    params=SimpleNamespace(
        size=8, presence_min_voxels=1, mri_percentiles=[1, 99], on_bad_scan="fail", seed=3
    ),
    log=[tmp + "/slice.log"],
    threads=1,
)
runpy.run_path({script!r}, init_globals={{"snakemake": snakemake}}, run_name="__main__")
"""


def test_a_failing_job_explains_itself_in_its_log(tmp_path):
    code = FAILING_JOB.format(script=str(SCRIPT))
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SCRIPT.parents[1])},
        timeout=120,
    )
    assert result.returncode != 0
    log = (tmp_path / "slice.log").read_text().strip().splitlines()
    assert any(line.startswith("Traceback") for line in log)
    assert "slice_subject (modality=ct, image_id=s0001) failed: BadScanError: ct/s0001" in log[-1]
    assert "gone/ct.nii.gz" in log[-1]


SPOILS = (truncated, four_d, with_nans, mask_of_other_affine, unknown_study_type, no_masks)
CT_META_HEADER = (
    "image_id;age;gender;institute;study_type;split;manufacturer;scanner_model;kvp;pathology;"
    "pathology_location"
)


@pytest.mark.slow
def test_a_dataset_of_good_and_every_kind_of_bad_scan_runs_through(tmp_path):
    """Good scans are sliced and indexed; every bad row and bad file is in the quarantine."""
    root = tmp_path / "CT_Dataset_v201"
    rows = {}
    for number in range(4):
        image_id = f"s{number:04d}"
        write_scan(root / image_id)
        rows[image_id] = ("ct head", "BC"[number % 2])
    for number, spoil in enumerate(SPOILS, start=10):
        image_id = f"s{number:04d}"
        rows[image_id] = (spoil(root / image_id)[2], "B")
    bad_rows = ["../../etc", "s0004/x", "s00 05", "s0006\x07", "S0007", "s0001"]
    lines = [f"{i};50;m;{inst};{study};train;ge;X;120;no_pathology;no_location"
             for i, (study, inst) in rows.items()]  # fmt: skip
    lines += [f'"{i}";50;m;B;ct head;train;ge;X;120;no_pathology;no_location' for i in bad_rows]
    lines.append("s0020;50;m;B;ct head;train;ge;X;120;no_pathology;no_location")
    (root / "meta.csv").write_text("\n".join([CT_META_HEADER, *lines]) + "\n", encoding="utf-8")

    repo = SCRIPT.parents[1]
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["dataset"] |= {"source": "totalsegmentator", "ct_root": str(root), "mri_root": None}
    config["split"] = {"test_institutes": ["C"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
         "--cores", "2", "results/slices/index.parquet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    index = pl.read_parquet(tmp_path / "results" / "slices" / "index.parquet")
    assert sorted(index["image_id"].unique()) == ["s0000", "s0002", "s0003"]
    quarantine = pl.read_parquet(tmp_path / "results" / "meta" / "quarantine.parquet")
    reasons = dict(quarantine.select("image_id", "reason").rows())
    expected = [f"s{n:04d}" for n in range(10, 10 + len(SPOILS))] + bad_rows + ["s0020"]
    assert sorted(reasons) == sorted(expected)
    assert "appears on 2 rows" in reasons["s0001"]
    assert "folder" in reasons["s0020"] and "unreadable NIfTI" in reasons["s0010"]
    assert all(reasons.values())
