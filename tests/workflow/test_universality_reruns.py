"""Rerun guarantees of the universality stages on a completed small demo run with two encoders
and one extra seed: a new seed plans only its own training and what reads it; a new encoder
plans only its own chain and the alignment pairs it enters."""

import copy
import shutil

import pytest

from .conftest import planned_jobs, snakemake, write_config

UPSTREAM = ("phantom", "subjects", "slice_subject", "split", "slice_index")


@pytest.mark.slow
def test_demo_writes_stability_and_alignment(finished_run):
    workdir, _ = finished_run
    assert planned_jobs(workdir) == {}
    results = workdir / "results" / "universality"
    assert len(list(results.glob("*/*/stability/summary.json"))) == 2
    assert len(list(results.glob("alignment/dino_a/*/dino_b/*/summary.json"))) == 1
    assert "stability" in (workdir / "results" / "report" / "index.html").read_text()


@pytest.mark.slow
def test_new_stability_seed_plans_only_its_training_and_readers(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["sae"]["stability_seeds"] = [1, 2]
    write_config(workdir, changed)
    try:
        jobs = planned_jobs(workdir)
    finally:
        write_config(workdir, config)
    assert jobs == {"train_sae": 2, "encode_codes": 2, "stability": 2, "report": 1, "all": 1}


@pytest.mark.slow
def test_new_encoder_plans_only_its_chain_and_its_alignment_pairs(finished_run, tmp_path):
    # runs the new encoder up to its ranking, so on a copy of the shared run
    workdir, config = tmp_path / "run", finished_run[1]
    shutil.copytree(finished_run[0], workdir, symlinks=True)
    changed = copy.deepcopy(config)
    changed["embedding"]["encoders"]["dino_c"] = config["embedding"]["encoders"]["dino_a"] | {
        "seed": 11
    }
    changed["sae"]["configs"]["dino_c"] = ["D32-128_K4-8"]
    write_config(workdir, changed)
    try:
        before_ranking = planned_jobs(workdir)
        # the selected SAE of the new encoder is known once its ranking checkpoint has run
        snakemake(workdir, "--cores", "2", "--until", "rank_configs")
        after_ranking = planned_jobs(workdir)
    finally:
        write_config(workdir, config)
    assert before_ranking["train_sae"] == 1 and before_ranking["rank_configs"] == 1
    assert not any(rule in before_ranking for rule in UPSTREAM)
    # own labels, stability of its selected SAE (main run + 1 seed), and two alignment pairs
    assert after_ranking["alignment"] == 2
    assert after_ranking["stability"] == 1
    assert after_ranking.get("train_sae") == 1  # the extra seed of its selected SAE
    assert not any(rule in after_ranking for rule in UPSTREAM + ("embed",))
