"""Rerun guarantees on a completed (small) demo run: only invalidated jobs are planned again."""

import pytest

from sail_core.operational_settings import OPERATIONAL_SETTINGS

from .conftest import planned_jobs, replan, snakemake

UPSTREAM = ("phantom", "subjects", "slice_subject", "split", "slice_index")


@pytest.mark.slow
def test_second_invocation_plans_nothing(finished_run):
    workdir, _ = finished_run
    assert planned_jobs(workdir) == {}
    assert (workdir / "results" / "report" / "index.html").exists()


@pytest.mark.slow
def test_new_sae_width_plans_only_the_sae_and_its_dependents(finished_run):
    workdir, config = finished_run
    jobs = replan(workdir, config, lambda c: c["sae"]["configs"]["dino_a"].append("D32-256_K4-8"))
    assert jobs.get("train_sae") == 1 and jobs.get("encode_codes") == 1
    assert not any(rule in jobs for rule in UPSTREAM + ("embed",))


@pytest.mark.slow
def test_encoder_param_plans_only_that_encoders_chain(finished_run):
    workdir, config = finished_run
    jobs = replan(
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
    jobs = replan(workdir, config, lambda c: c["labelling"]["offline"].update(consistency=0.9))
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


def _set(path: str, value):
    """A change that sets the config key at dotted `path` to `value`."""

    def change(config):
        *parents, key = path.split(".")
        for parent in parents:
            config = config[parent]
        config[key] = value

    return change


# one new value for every operational setting (sail_core.operational_settings)
OPERATIONAL_CHANGES = {
    "embedding.threads": 2,
    "embedding.resources": {"mem_mb": 1000, "runtime": 5},
    "embedding.encoders.dino_b.batch_size": 7,
    "embedding.encoders.dino_b.num_workers": 1,
    "embedding.encoders.dino_b.resources": {"mem_mb": 1000},
    "sae.training.log_every": 7,
    "sae.training.checkpoint_every": 3,
    "sae.training.memory_budget_mb": 1,
    "sae.training.device": "cpu",
    "sae.codes.chunk_rows": 100,
    "mining.chunk_rows": 100,
    "labelling.evaluation.chunk_rows": 100,
    "labelling.anthropic.max_retries": 1,
    "labelling.anthropic.timeout_s": 5,
    "labelling.anthropic.batch_min_requests": 1,
    "labelling.anthropic.poll_interval_s": 1,
    "labelling.anthropic.max_wait_s": 10,
    "labelling.anthropic.base_url": "http://localhost:9",
    "retrieval.chunk_rows": 100,
}


def test_every_operational_setting_has_a_rerun_check():
    covered = set()
    for path in OPERATIONAL_CHANGES:
        block, _, key = path.rpartition(".")
        covered.add((block.replace("encoders.dino_b", "encoders.*"), key))
    table = {(block, key) for block, keys in OPERATIONAL_SETTINGS.items() for key in keys}
    assert covered == table


@pytest.mark.slow
@pytest.mark.parametrize("path", OPERATIONAL_CHANGES)
def test_operational_setting_reruns_nothing(finished_run, path):
    workdir, config = finished_run
    assert replan(workdir, config, _set(path, OPERATIONAL_CHANGES[path])) == {}


# up to the rank_configs checkpoint: a dry run cannot plan what follows a checkpoint that reruns
SAE_CHAIN = (
    "train_sae encode_codes probe recovery monosemanticity fingerprint rank_configs summarize"
).split()
# a result-affecting setting -> its new value and the jobs that must rerun (both encoders)
RESULT_CHANGES = {
    "sae.training.lr": (1e-3, {rule: 2 for rule in SAE_CHAIN} | {"report": 1}),
    "mining.n_top": (
        5,
        {"mine_features": 2, "label_features": 2, "evaluate_labels": 2}
        # stability and alignment tables carry the labels and top structures of each feature
        | {"language_retrieval": 2, "stability": 2, "alignment": 1, "report": 1},
    ),
    "evaluation.fingerprint.n_retrieved": (3, {"fingerprint": 2, "summarize": 2, "report": 1}),
    "labelling.evaluation.n_distractors": (
        3,
        {"evaluate_labels": 2, "language_retrieval": 2, "report": 1},
    ),
    "retrieval.k": (5, {"language_retrieval": 2, "report": 1}),
    "report.title": ("Atlas", {"report": 1}),
}


@pytest.mark.slow
@pytest.mark.parametrize("path", RESULT_CHANGES)
def test_result_setting_reruns_exactly_its_jobs(finished_run, path):
    workdir, config = finished_run
    value, expected = RESULT_CHANGES[path]
    jobs = replan(workdir, config, _set(path, value))
    jobs.pop("all", None)
    assert jobs == expected
