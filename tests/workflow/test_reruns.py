"""Rerun guarantees on a completed (small) demo run: only invalidated jobs are planned again."""

import copy

import pytest

from .conftest import planned_jobs, snakemake, write_config

UPSTREAM = ("phantom", "subjects", "slice_subject", "split", "slice_index")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, demo_config_module):
    workdir = tmp_path_factory.mktemp("demo_run")
    write_config(workdir, demo_config_module)
    snakemake(workdir, "--cores", "2")
    return workdir, demo_config_module


@pytest.fixture(scope="module")
def demo_config_module():
    import yaml

    from .conftest import REPO

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["phantom"].update(n_ct=8, n_mri=4)
    random_dino = config["embedding"]["encoders"]["dinov3_random"]
    config["embedding"]["encoders"] = {
        "dino_a": copy.deepcopy(random_dino),
        "dino_b": copy.deepcopy(random_dino) | {"seed": 7},
    }
    config["sae"]["configs"] = {"dino_a": ["D32-128_K4-8"], "dino_b": ["D32-128_K4-8"]}
    config["sae"]["training"]["epochs"] = 5
    return config


def _replan(workdir, config, change):
    changed = copy.deepcopy(config)
    change(changed)
    write_config(workdir, changed)
    try:
        return planned_jobs(workdir)
    finally:
        write_config(workdir, config)


@pytest.mark.slow
def test_second_invocation_plans_nothing(finished_run):
    workdir, _ = finished_run
    assert planned_jobs(workdir) == {}
    assert (workdir / "results" / "report" / "index.html").exists()


@pytest.mark.slow
def test_new_sae_width_plans_only_the_sae_and_its_dependents(finished_run):
    workdir, config = finished_run
    jobs = _replan(workdir, config, lambda c: c["sae"]["configs"]["dino_a"].append("D32-256_K4-8"))
    assert jobs.get("train_sae") == 1 and jobs.get("encode_codes") == 1
    assert not any(rule in jobs for rule in UPSTREAM + ("embed",))


@pytest.mark.slow
def test_encoder_param_plans_only_that_encoders_chain(finished_run):
    workdir, config = finished_run
    jobs = _replan(
        workdir,
        config,
        lambda c: c["embedding"]["encoders"]["dino_b"].update(seed=11),
    )
    n_shards = len(list((workdir / "results" / "embeddings" / "dino_b").glob("shard-*.zarr")))
    assert jobs.get("embed") == n_shards
    assert jobs.get("train_sae") == 1
    assert not any(rule in jobs for rule in UPSTREAM)


@pytest.mark.slow
def test_labeller_settings_plan_only_labelling_and_after(finished_run):
    workdir, config = finished_run
    jobs = _replan(workdir, config, lambda c: c["labelling"]["offline"].update(consistency=0.9))
    assert "label_features" in jobs
    assert not any(rule in jobs for rule in UPSTREAM + ("embed", "train_sae", "encode_codes"))


@pytest.mark.slow
def test_lost_output_is_rebuilt_alone(finished_run):
    workdir, _ = finished_run
    summary = next((workdir / "results" / "eval").glob("dino_a/*/summary.json"))
    summary.unlink()
    assert planned_jobs(workdir).get("summarize") == 1
    snakemake(workdir, "--cores", "2", "--rerun-incomplete")
    assert summary.exists()
    assert planned_jobs(workdir) == {}
