"""A CT-only dataset (the MRI root set to null) runs from the phantom to the report."""

import copy
import re

import polars as pl
import pytest

from .conftest import full_demo_config, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow


def ct_only_config() -> dict:
    """Four CT scans, no MRI root, one random encoder with one small SAE."""
    config = full_demo_config()
    config["dataset"]["mri_root"] = None
    config["phantom"].update(n_ct=4)
    encoder = copy.deepcopy(config["embedding"]["encoders"]["dinov3_random"])
    config["embedding"]["encoders"] = {"dino": encoder}
    config["sae"]["configs"] = {"dino": ["D32-128_K4-8"]}
    config["sae"]["training"]["epochs"] = 3
    return config


def test_ct_only_dataset_runs_to_the_report(tmp_path):
    config = ct_only_config()
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2")

    assert not (tmp_path / "resources/phantom/MRI_Dataset_v200").exists()
    subjects = pl.read_parquet(tmp_path / "results/meta/subjects.parquet")
    assert subjects["modality"].unique().to_list() == ["ct"]
    split = pl.read_parquet(tmp_path / "results/meta/split.parquet")
    assert split.height == 4 and split["modality"].unique().to_list() == ["ct"]
    index = pl.read_parquet(tmp_path / "results/slices/index.parquet")
    assert index.height > 0 and index["modality"].unique().to_list() == ["ct"]
    assert not (tmp_path / "results/slices/mri").exists()

    summary = pl.read_csv(tmp_path / "results/meta/split_summary.tsv", separator="\t")
    assert summary["ct_scans"].sum() == 4 and "mri_scans" not in summary.columns
    html = (tmp_path / "results/report/index.html").read_text()
    data_section = html.split("<h2>Data</h2>", 1)[1].split("<h2>", 1)[0]
    data_section = re.sub(r'data:[^"]+', "", data_section)  # embedded images
    assert "ct_scans" in data_section
    assert "mri" not in data_section.lower()


def test_an_mri_only_config_plans_only_mri_scans(tmp_path):
    config = full_demo_config()
    config["dataset"]["ct_root"] = None
    config["phantom"].update(n_ct=5, n_mri=3)
    write_config(tmp_path, config)
    planned = planned_jobs(tmp_path)
    assert planned["phantom"] == 1 and planned["slice_subject"] == 3
    assert not (tmp_path / "resources").exists()


def test_a_named_root_without_scans_is_refused(tmp_path):
    config = ct_only_config()
    config["dataset"]["mri_root"] = "resources/phantom/MRI"
    config["phantom"]["n_mri"] = 0
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0
    assert "phantom.n_mri is 0 but dataset.mri_root is set" in result.stdout + result.stderr
