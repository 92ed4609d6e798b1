import numpy as np
import polars as pl
import pytest

from sail_core.data.split import make_split, split_summary


@pytest.fixture
def scans():
    rng = np.random.default_rng(1)
    n = 400
    return pl.DataFrame(
        {
            "modality": rng.choice(["ct", "mri"], n).tolist(),
            "image_id": [f"s{i:04d}" for i in range(n)],
            "institute": rng.choice(list("ABCDEFGHIJ"), n).tolist(),
            "gender": rng.choice(["m", "f", None], n, p=[0.48, 0.48, 0.04]).tolist(),
            "age_bin": rng.choice(["<40", "40-60", "60-80", ">=80"], n).tolist(),
        }
    )


def test_split_invariants(scans):
    split = make_split(scans, test_institutes=["A", "D", "E"], train_fraction=0.8, seed=42)
    joined = split.join(scans, on=["modality", "image_id"])
    assert split.height == scans.height
    assert not split.select("modality", "image_id").is_duplicated().any()
    assert set(joined.filter(pl.col("split") == "test")["institute"]) <= {"A", "D", "E"}
    assert not joined.filter(pl.col("split") != "test")["institute"].is_in(["A", "D", "E"]).any()
    rest = joined.filter(pl.col("split") != "test")
    val_share = (rest["split"] == "val").mean()
    assert abs(val_share - 0.2) <= 1 / rest.height
    for _, group in rest.group_by("modality", "gender", "age_bin"):
        if group.height >= 10:
            assert abs((group["split"] == "val").mean() - 0.2) < 0.1


def test_split_is_seeded(scans):
    a = make_split(scans, test_institutes=["A"], train_fraction=0.8, seed=3)
    b = make_split(scans, test_institutes=["A"], train_fraction=0.8, seed=3)
    c = make_split(scans, test_institutes=["A"], train_fraction=0.8, seed=4)
    assert a.equals(b)
    assert not a.equals(c)


def test_same_image_id_in_two_modalities_are_two_scans():
    scans = pl.DataFrame(
        {
            "modality": ["ct", "mri"],
            "image_id": ["s0001", "s0001"],
            "institute": ["A", "B"],
            "gender": ["m", "f"],
            "age_bin": ["<40", "<40"],
        }
    )
    split = make_split(scans, test_institutes=["A"], train_fraction=0.8, seed=0)
    assert dict(zip(split["modality"], split["split"], strict=True))["ct"] == "test"
    assert split.height == 2


def test_summary_counts_slices():
    split = pl.DataFrame(
        {"modality": ["ct", "mri"], "image_id": ["s1", "s1"], "split": ["train", "test"]}
    )
    slices = pl.DataFrame({"modality": ["ct"] * 3 + ["mri"], "image_id": ["s1"] * 4})
    summary = split_summary(slices, split)
    assert summary.filter(pl.col("split") == "train")["slices"].item() == 3
    assert summary.filter(pl.col("split") == "test")["mri_scans"].item() == 1


def test_summary_of_a_ct_only_dataset_has_no_mri_column():
    split = pl.DataFrame(
        {"modality": ["ct", "ct"], "image_id": ["s1", "s2"], "split": ["train"] * 2}
    )
    slices = pl.DataFrame({"modality": ["ct"] * 3, "image_id": ["s1", "s1", "s2"]})
    summary = split_summary(slices, split)
    assert summary.columns == ["split", "scans", "slices", "ct_scans"]
    assert summary.row(0) == ("train", 2, 3, 2)


def test_bad_fraction():
    with pytest.raises(ValueError, match="train_fraction"):
        make_split(pl.DataFrame(), test_institutes=[], train_fraction=1.0, seed=0)
