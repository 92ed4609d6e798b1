"""A study checkpoint named in sae.imports replaces training of that config end to end."""

import copy
import json
import shutil

import pytest

from tests.fixtures import write_study_checkpoint

from .conftest import planned_jobs, snakemake, write_config

ENCODER, SAE = "dino_a", "D32-128_K4-8"


@pytest.mark.slow
def test_imported_checkpoint_runs_through_evaluation_and_report(finished_run, tmp_path):
    source, config = finished_run
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir, symlinks=True)
    checkpoint = tmp_path / "study" / "last.ckpt"
    checkpoint.parent.mkdir()
    dim = config["embedding"]["encoders"][ENCODER]["dim"]
    # a threshold that keeps the random dictionary's codes sparse, as a trained one's are
    write_study_checkpoint(checkpoint, dim, [32, 128], [4, 8], threshold=0.25)
    imported = copy.deepcopy(config)
    imported["sae"]["imports"] = {ENCODER: {SAE: str(checkpoint)}}
    write_config(workdir, imported)

    jobs = planned_jobs(workdir)
    assert jobs.get("import_checkpoint") == 1
    assert "train_sae" not in jobs and "embed" not in jobs
    assert jobs.get("encode_codes") == 1 and jobs.get("summarize") == 1

    snakemake(workdir, "--cores", "2")
    folder = workdir / "results" / "sae_imports" / ENCODER / SAE
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["imported"]["source"] == str(checkpoint)
    assert {"train", "val", "test"} <= set(metrics)
    summary = json.loads(
        (workdir / "results" / "eval" / ENCODER / SAE / "summary.json").read_text()
    )
    assert summary["sae"] == SAE
    html = (workdir / "results" / "report" / "index.html").read_text()
    assert f"{ENCODER}/{SAE}" in html
    assert planned_jobs(workdir) == {}
