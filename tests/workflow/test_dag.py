"""Dry-run plans of the demo workflow: which jobs the DAG holds before anything ran."""

import re

import pytest

from .conftest import planned_jobs, snakemake, write_config


@pytest.fixture
def workdir(tmp_path, demo_config):
    write_config(tmp_path, demo_config)
    return tmp_path


def test_fresh_plan_counts_jobs_per_rule(workdir, demo_config):
    jobs = planned_jobs(workdir)
    n_scans = demo_config["phantom"]["n_ct"] + demo_config["phantom"]["n_mri"]
    n_shards = -(-n_scans // demo_config["embedding"]["shard_size"])
    n_encoders = len(demo_config["embedding"]["encoders"])
    n_saes = sum(len(v) for v in demo_config["sae"]["configs"].values())
    assert jobs["phantom"] == 1
    assert jobs["subjects"] == 1
    assert jobs["slice_subject"] == n_scans
    assert jobs["split"] == 1
    assert jobs["slice_index"] == 1
    assert jobs["embed"] == n_encoders * n_shards
    assert jobs["train_sae"] == n_saes
    assert jobs["encode_codes"] == n_saes
    assert jobs["rank_configs"] == n_encoders


def test_embed_jobs_declare_a_gpu(workdir):
    out = snakemake(workdir, "--dry-run", "--cores", "1").stdout
    blocks = [b for b in out.split("\n\n") if re.search(r"^rule embed:", b, re.M)]
    assert blocks
    for block in blocks:
        resources = re.search(r"resources: (.*)", block).group(1)
        assert "gpu=1" in resources and "mem_mb=" in resources and "runtime=" in resources


def test_adding_an_encoder_adds_only_its_jobs(workdir, demo_config):
    before = planned_jobs(workdir)
    spec = dict(demo_config["embedding"]["encoders"]["efficientnet"])
    demo_config["embedding"]["encoders"]["efficientnet_copy"] = spec
    demo_config["sae"]["configs"]["efficientnet_copy"] = ["D32-128_K4-8"]
    write_config(workdir, demo_config)
    after = planned_jobs(workdir)
    n_shards = before["embed"] // 2
    assert after["embed"] == before["embed"] + n_shards
    assert after["train_sae"] == before["train_sae"] + 1
    assert after["slice_subject"] == before["slice_subject"]


def test_bad_config_stops_before_the_dag_in_one_line(workdir, demo_config):
    demo_config["sae"]["training"]["epoch"] = 3
    write_config(workdir, demo_config)
    result = snakemake(workdir, "--dry-run", "--cores", "1", check=False)
    assert result.returncode != 0
    line = next(ln for ln in (result.stdout + result.stderr).splitlines() if "config.yaml:" in ln)
    assert "sae.training" in line and "epoch" in line


def test_every_encoder_kind_is_embedded_by_the_one_embed_rule(workdir, demo_config):
    """A BiomedParse encoder (run in its own conda env) adds shards of the same `embed` rule."""
    before = planned_jobs(workdir)
    (workdir / "BiomedParse").mkdir()
    demo_config["embedding"]["encoders"]["biomedparse_random"] = {
        "kind": "biomedparse",
        "repo_dir": "BiomedParse",
        "random_init": True,
        "seed": 42,
        "dim": 1536,
        "image_size": 64,
        "precision": "fp32",
    }
    demo_config["sae"]["configs"]["biomedparse_random"] = ["D32-128_K4-8"]
    write_config(workdir, demo_config)
    after = planned_jobs(workdir)
    n_scans = demo_config["phantom"]["n_ct"] + demo_config["phantom"]["n_mri"]
    n_shards = -(-n_scans // demo_config["embedding"]["shard_size"])
    assert after["embed"] == before["embed"] + n_shards
    assert set(after) == set(before), "a BiomedParse encoder is embedded by another rule"
