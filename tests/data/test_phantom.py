import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from sail_core.data.anatomy import CT_STRUCTURES, MRI_STRUCTURES
from sail_core.data.dataset import build_subjects
from sail_core.data.phantom import (
    CT_STUDIES,
    MRI_STUDIES,
    PhantomSizes,
    ct_scan,
    generate_phantom,
    mri_scan,
    phantom_plan,
)
from sail_core.data.phantom.body import LABEL_ID, LABELS, build_body, structure_masks
from sail_core.data.phantom.generate import PROVENANCE_FILE
from sail_core.data.phantom.meta import INSTITUTES, roster
from sail_core.data.phantom.render import mri_image
from sail_core.data.phantom.tissues import TISSUE_ID
from sail_core.data.windowing import CT_WINDOWS

CT_HEADER = "image_id;age;gender;institute;study_type;split;manufacturer;scanner_model;kvp;pathology;pathology_location"
MRI_HEADER = (
    "image_id;age;gender;institute;study_type;split;manufacturer;scanner_model;"
    "magnetic_field_strength;scanning_sequence;echo_time;repetition_time;slice_thickness;source"
)
TINY = {"ct_matrix": 24, "ct_max_slices": 40, "mri_matrix": 20, "mri_slice_thickness_mm": 12.0}
N_CT, N_MRI = 6, 3


def _generate(root: Path, seed: int = 7, n_ct: int = N_CT, n_mri: int = N_MRI) -> tuple[Path, Path]:
    generate_phantom(root / "ct", root / "mri", n_ct=n_ct, n_mri=n_mri, seed=seed, **TINY)
    return root / "ct", root / "mri"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    return _generate(tmp_path_factory.mktemp("phantom"))


def _rows(meta: Path) -> list[dict[str, str]]:
    header, *lines = meta.read_text(encoding="utf-8-sig").splitlines()
    return [dict(zip(header.split(";"), line.split(";"), strict=True)) for line in lines]


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _centroid(mask_path: Path) -> np.ndarray:
    """Mean world (RAS mm) position of a mask's voxels."""
    mask = nib.load(mask_path)
    voxels = np.argwhere(np.asarray(mask.dataobj) > 0)
    return nib.affines.apply_affine(mask.affine, voxels).mean(axis=0)


def test_meta_csv_is_semicolon_separated_with_bom_and_the_real_columns(dataset):
    for root, header, n in ((dataset[0], CT_HEADER, N_CT), (dataset[1], MRI_HEADER, N_MRI)):
        raw = (root / "meta.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf" + header.encode() + b"\n")
        rows = _rows(root / "meta.csv")
        assert [r["image_id"] for r in rows] == [f"s{i:04d}" for i in range(n)]


def test_every_scan_has_its_image_and_a_mask_for_every_structure(dataset):
    for root, image_name, structures in (
        (dataset[0], "ct.nii.gz", CT_STRUCTURES),
        (dataset[1], "mri.nii.gz", MRI_STRUCTURES),
    ):
        folders = sorted(p.name for p in root.iterdir() if p.is_dir())
        assert folders == [r["image_id"] for r in _rows(root / "meta.csv")]
        for folder in folders:
            image = nib.load(root / folder / image_name)
            masks = sorted(
                p.name.removesuffix(".nii.gz") for p in (root / folder / "segmentations").iterdir()
            )
            assert masks == sorted(structures)
            for name in ("liver", "spinal_cord", "brain"):
                mask = nib.load(root / folder / "segmentations" / f"{name}.nii.gz")
                assert mask.shape == image.shape and np.array_equal(mask.affine, image.affine)
                assert mask.get_data_dtype() == np.uint8
                assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}
            assert any(
                np.asarray(nib.load(p).dataobj).any()
                for p in (root / folder / "segmentations").iterdir()
            )


def test_meta_values_are_in_the_dataset_vocabularies(dataset):
    ct, mri = _rows(dataset[0] / "meta.csv"), _rows(dataset[1] / "meta.csv")
    for row in ct + mri:
        assert 18 <= int(row["age"]) <= 90
        assert row["gender"] in {"m", "f"} and row["institute"] in INSTITUTES
        assert row["manufacturer"] in {"siemens", "ge", "philips"}
        assert row["split"] in {"train", "val", "test"}
    assert {r["study_type"] for r in ct} <= set(CT_STUDIES)
    assert {float(r["kvp"]) for r in ct} <= {80.0, 100.0, 120.0, 140.0}
    assert all(
        (r["pathology"] == "no_pathology") == (r["pathology_location"] == "no_location") for r in ct
    )
    assert {r["study_type"] for r in mri} <= set(MRI_STUDIES)
    assert {float(r["magnetic_field_strength"]) for r in mri} <= {1.5, 3.0}
    assert {r["scanning_sequence"] for r in mri} <= {"GR", "SE", "IR"}


def test_dataset_reader_accepts_the_phantom(dataset):
    subjects = build_subjects({"ct": dataset[0], "mri": dataset[1]})
    assert subjects.height == N_CT + N_MRI
    assert subjects["problem"].is_null().all()


def test_ct_study_types_have_a_window():
    assert set(CT_STUDIES) <= set(CT_WINDOWS)


def test_same_seed_gives_identical_files_and_another_seed_does_not(dataset, tmp_path):
    again = _generate(tmp_path / "again")
    assert _digests(again[0]) == _digests(dataset[0])
    assert _digests(again[1]) == _digests(dataset[1])
    other = _generate(tmp_path / "other", seed=8, n_mri=1)
    assert (other[0] / "meta.csv").read_bytes() != (dataset[0] / "meta.csv").read_bytes()


def test_volumes_are_stored_in_several_orientations(dataset):
    ct_codes = {nib.aff2axcodes(nib.load(p).affine) for p in dataset[0].glob("s*/ct.nii.gz")}
    assert len(ct_codes) >= 4
    assert ("L", "P", "S") in ct_codes and ("R", "A", "S") in ct_codes
    assert any(codes[0] not in "LR" for codes in ct_codes)  # permuted axes
    for path in dataset[1].glob("s*/mri.nii.gz"):
        image = nib.load(path)
        zooms = image.header.get_zooms()
        assert np.argmax(zooms) == 2  # thick slices along the last array axis


def test_organs_sit_on_their_anatomical_side(dataset):
    checked = 0
    for folder in sorted(dataset[0].glob("s*")):
        masks = folder / "segmentations"
        present = {
            n
            for n in ("liver", "spleen", "heart", "aorta", "vertebrae_L1")
            if np.asarray(nib.load(masks / f"{n}.nii.gz").dataobj).any()
        }
        if {"liver", "spleen"} <= present:
            assert (
                _centroid(masks / "liver.nii.gz")[0] > 0 > _centroid(masks / "spleen.nii.gz")[0]
            )  # RAS: +x = right
            checked += 1
        if "heart" in present:
            assert _centroid(masks / "heart.nii.gz")[0] < 0
        if {"aorta", "vertebrae_L1"} <= present:
            assert (
                _centroid(masks / "aorta.nii.gz")[1] > _centroid(masks / "vertebrae_L1.nii.gz")[1]
            )
    assert checked >= 1


SIZES = PhantomSizes(**TINY)


def _ct(study_type: str, gender: str = "m", seed: int = 0):
    return ct_scan("s0000", gender, "B", study_type, np.random.default_rng(seed), SIZES)


def _present(scan, modality: str) -> set[str]:
    return {name for name, mask in structure_masks(scan.labels, modality).items() if mask.any()}


def test_field_of_view_follows_the_study_type():
    head = _present(_ct("ct head")[1], "ct")
    assert {"brain", "skull"} <= head and not head & {"liver", "lung_upper_lobe_left", "femur_left"}
    abdomen = _present(_ct("ct abdomen")[1], "ct")
    assert {"liver", "spleen", "kidney_left", "vertebrae_L1"} <= abdomen and "brain" not in abdomen
    thorax = _present(_ct("ct thorax")[1], "ct")
    assert {"heart", "lung_upper_lobe_right", "aorta", "vertebrae_T6"} <= thorax
    assert not thorax & {"brain", "urinary_bladder"}
    pelvis = _present(_ct("ct pelvis")[1], "ct")
    assert {"urinary_bladder", "hip_left", "hip_right", "sacrum", "prostate"} <= pelvis
    assert "prostate" not in _present(_ct("ct pelvis", gender="f")[1], "ct")
    whole_body = _present(_ct("ct whole body")[1], "ct")
    assert {"brain", "liver", "femur_right"} <= whole_body


def test_ct_intensities_are_hounsfield_units():
    fields, scan = _ct("ct thorax-abdomen-pelvis", seed=3)
    image, masks = scan.image, structure_masks(scan.labels, "ct")
    assert image.dtype == np.int16 and image.min() >= -1024 and image.max() <= 3071
    assert np.median(image[0]) < -900  # air at the edge of the field of view
    assert np.median(image[masks["lung_lower_lobe_left"] > 0]) < -600
    assert 20 < np.median(image[masks["liver"] > 0]) < 140
    assert np.median(image[masks["femur_left"] > 0]) > 200
    assert fields["kvp"] in {80.0, 100.0, 120.0, 140.0}


def test_mri_sequences_give_their_contrast():
    tissues = np.zeros((8, 8, 8), dtype=np.uint8)
    tissues[:4] = TISSUE_ID["liver"]
    tissues[4:] = TISSUE_ID["spleen"]
    rng = np.random.default_rng(0)
    t1, t2 = mri_image(tissues, rng, "GR", 1000.0), mri_image(tissues, rng, "SE", 1000.0)
    assert t1[:3].mean() > t1[5:].mean() and t2[:3].mean() < t2[5:].mean()


def test_mri_is_positive_anisotropic_and_uses_mri_labels():
    fields, scan = mri_scan("s0000", "f", "C", "abdomen", np.random.default_rng(1), SIZES)
    assert scan.image.min() >= 0 and scan.image.max() > 100
    assert max(scan.grid.spacing) > min(scan.grid.spacing)
    assert (
        float(fields["slice_thickness"])
        == scan.grid.spacing[{"axial": 2, "coronal": 1, "sagittal": 0}[scan.plane]]
    )
    masks = structure_masks(scan.labels, "mri")
    assert set(masks) == set(MRI_STRUCTURES)
    assert masks["vertebrae"].any() and masks["liver"].any()


def test_mri_masks_merge_the_ct_subdivisions():
    labels = np.array(
        [
            LABEL_ID["lung_upper_lobe_left"],
            LABEL_ID["lung_lower_lobe_left"],
            LABEL_ID["vertebrae_T4"],
            LABEL_ID["vertebrae_S1"],
        ],
        dtype=np.uint8,
    )
    mri = structure_masks(labels, "mri")
    assert mri["lung_left"].tolist() == [1, 1, 0, 0]
    assert mri["vertebrae"].tolist() == [0, 0, 1, 0] and mri["sacrum"].tolist() == [0, 0, 0, 1]


def test_body_parts_use_only_totalsegmentator_names():
    for sex in ("m", "f"):
        names = {
            p.structure for p in build_body(np.random.default_rng(0), sex).parts if p.structure
        }
        assert names <= set(LABELS)
        assert len(names) >= 110


def test_roster_balances_sex_and_keeps_institutes_for_a_test_split():
    weights = {name: study.weight for name, study in CT_STUDIES.items()}
    people = roster(12, weights, np.random.default_rng(0))
    assert sorted(g for g, _, _ in people).count("m") == 6
    institutes = [i for _, i, _ in people]
    assert sum(i in "ADE" for i in institutes) == 3 and len(set(institutes)) >= 9
    studies = {s for _, _, s in people}
    assert {
        "ct thorax",
        "ct abdomen-pelvis",
        "ct thorax-abdomen-pelvis",
        "ct head",
        "ct abdomen",
    } <= studies


def test_rerun_removes_surplus_scans(tmp_path):
    ct, mri = _generate(tmp_path, n_ct=3, n_mri=2)
    _generate(tmp_path, n_ct=2, n_mri=1)
    assert sorted(p.name for p in ct.iterdir() if p.is_dir()) == ["s0000", "s0001"]
    assert sorted(p.name for p in mri.iterdir() if p.is_dir()) == ["s0000"]
    assert (ct / PROVENANCE_FILE).exists()


def test_refuses_to_write_over_other_data(tmp_path):
    (tmp_path / "ct").mkdir()
    (tmp_path / "ct" / "notes.txt").write_text("real data")
    with pytest.raises(FileExistsError, match="phantom.json"):
        _generate(tmp_path)


def test_interrupted_run_leaves_no_meta_csv(tmp_path, monkeypatch):
    import sail_core.data.phantom.generate as generate

    def fail(folder, *args):
        if folder.name == "s0001":
            raise OSError("disk full")
        original(folder, *args)

    original = generate.write_scan
    monkeypatch.setattr(generate, "write_scan", fail)
    with pytest.raises(OSError, match="disk full"):
        _generate(tmp_path, n_ct=2, n_mri=1)
    assert (
        not (tmp_path / "ct" / "meta.csv").exists() and not (tmp_path / "mri" / "meta.csv").exists()
    )
    assert not (tmp_path / "ct" / "s0001").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_ct": -1}, "number of ct"),
        ({"seed": -3}, "seed"),
        ({"ct_matrix": 4}, "ct_matrix"),
        ({"mri_slice_thickness_mm": 0.0}, "thickness"),
    ],
)
def test_bad_parameters_are_named(tmp_path, change, message):
    arguments = {"n_ct": 1, "n_mri": 1, "seed": 0, **TINY, **change}
    with pytest.raises(ValueError, match=message):
        generate_phantom(tmp_path / "ct", tmp_path / "mri", **arguments)


def test_ct_and_mri_roots_must_differ(tmp_path):
    with pytest.raises(ValueError, match="must differ"):
        generate_phantom(tmp_path, tmp_path, n_ct=1, n_mri=1, seed=0, **TINY)


def test_a_null_root_leaves_its_modality_out(tmp_path):
    generate_phantom(tmp_path / "ct", None, n_ct=2, n_mri=5, seed=0, **TINY)
    assert len(_rows(tmp_path / "ct" / "meta.csv")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct"]


@pytest.mark.parametrize(
    "roots, counts, message",
    [
        ({"ct": "ct", "mri": "mri"}, {"ct": 2, "mri": 0}, "n_mri is 0 but dataset.mri_root is set"),
        ({"ct": None, "mri": None}, {"ct": 2, "mri": 2}, "both are null"),
        ({"ct": None, "mri": "mri"}, {"ct": -1, "mri": 2}, "number of ct"),
    ],
)
def test_phantom_plan_refuses_what_would_make_an_empty_dataset(roots, counts, message):
    with pytest.raises(ValueError, match=message):
        phantom_plan(roots, counts)


def test_phantom_plan_keeps_the_modalities_with_a_root():
    plan = phantom_plan({"ct": None, "mri": "m"}, {"ct": 4, "mri": 3})
    assert plan == {"mri": (Path("m"), 3)}
