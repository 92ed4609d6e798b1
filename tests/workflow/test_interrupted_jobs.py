"""kill -9 in the middle of a job, rerun: the same results as a run never interrupted.

A `sitecustomize` on the jobs' PYTHONPATH sends SIGKILL to the job process right before it
renames a chosen output into place (its temporary copy fully written, the output not yet
there), at the n-th such rename: the deterministic equivalent of killing it mid-job. The output
is named by a glob pattern's ending (`*` for a part not known in advance).
"""

import copy
import importlib.util
import shutil

import numpy as np
import polars as pl
import pytest
import zarr

from .conftest import REPO, full_demo_config, snakemake, write_config

TARGET = "results/codes/dino/D32-128_K4-8.zarr"
KILL_HOOK = """
import fnmatch
import os
import signal

_spec = os.environ.get("SAIL_TEST_KILL_BEFORE_RENAME")
if _spec:
    _suffix, _nth = _spec.rsplit(":", 1)
    _seen = [0]
    _replace = os.replace

    def _replace_or_die(src, dst, *args, **kwargs):
        if fnmatch.fnmatch(str(dst), "*" + _suffix):
            _seen[0] += 1
            if _seen[0] == int(_nth):
                os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)

    os.replace = _replace_or_die
"""
# Right before: a scan's slice store, an embedding shard, the SAE's third step's checkpoint.
KILLS = (
    "results/slices/ct/s0001.zarr:1",
    "results/embeddings/dino/shard-0.zarr:1",
    "checkpoints/last.pt:3",
)


def tiny_config() -> dict:
    config = full_demo_config()
    config["phantom"].update(n_ct=3, n_mri=2)
    encoder = copy.deepcopy(config["embedding"]["encoders"]["dinov3_random"])
    config["embedding"]["encoders"] = {"dino": encoder}
    config["sae"]["configs"] = {"dino": ["D32-128_K4-8"]}
    config["sae"]["training"].update(epochs=3, checkpoint_every=1)
    config["sae"]["stability_seeds"] = []
    return config


def results_of(workdir) -> dict[str, object]:
    """Every table (as a frame) and every zarr array (as bytes) under results/, by path."""
    found = {}
    results = workdir / "results"
    for path in sorted(results.rglob("*")):
        name = str(path.relative_to(results))
        if name.startswith("benchmarks"):
            continue
        if path.suffix == ".parquet":
            found[name] = pl.read_parquet(path)
        elif path.suffix == ".zarr":
            group = zarr.open_group(str(path), mode="r")
            for array_name, array in group.arrays():
                found[f"{name}/{array_name}"] = np.asarray(array[...]).tobytes()
        elif path.name == "model.safetensors":
            found[name] = path.read_bytes()
    return found


@pytest.mark.slow
def test_jobs_killed_mid_way_rerun_to_the_same_results(tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    write_config(reference, tiny_config())
    snakemake(reference, "--cores", "2", TARGET)

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_HOOK)
    monkeypatch.setenv("PYTHONPATH", str(hook))
    interrupted = tmp_path / "interrupted"
    write_config(interrupted, tiny_config())
    for kill in KILLS:
        monkeypatch.setenv("SAIL_TEST_KILL_BEFORE_RENAME", kill)
        result = snakemake(interrupted, "--cores", "2", TARGET, check=False)
        assert result.returncode != 0, f"nothing was killed at {kill}"
    monkeypatch.delenv("SAIL_TEST_KILL_BEFORE_RENAME")
    snakemake(interrupted, "--cores", "2", TARGET)

    assert not [p for p in (interrupted / "results").rglob("*") if ".tmp-" in p.name]
    expected, got = results_of(reference), results_of(interrupted)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        if isinstance(value, pl.DataFrame):
            assert got[name].equals(value), name
        else:
            assert got[name] == value, name


LABELS = "results/labels/dino/D32-128_K4-8/anthropic.parquet"
# Right before the batch id is recorded: the batch is created (and billed), the job does not know it.
KILL_AFTER_CREATE = "results/labels/cache/batches/*.json:2"


def fake_anthropic():
    """A started instance of the label tests' local stand-in for the Anthropic API."""
    spec = importlib.util.spec_from_file_location(
        "fake_anthropic", REPO / "tests" / "label" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fake = module.FakeAnthropic()
    fake.thread.start()
    return fake


def labelling_config() -> dict:
    config = tiny_config()
    config["labelling"]["labeller"] = "anthropic"
    config["labelling"]["anthropic"].update(batch_min_requests=1, poll_interval_s=0.05)
    return config


@pytest.mark.slow
def test_labelling_killed_after_creating_its_batch_reruns_without_paying_twice(
    tmp_path, monkeypatch
):
    reference = tmp_path / "reference"
    write_config(reference, labelling_config())
    reference_api = fake_anthropic()
    monkeypatch.setenv("ANTHROPIC_API_KEY", reference_api.key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", reference_api.base_url)
    snakemake(reference, "--cores", "2", LABELS)
    reference_api.server.shutdown()
    assert sum(reference_api.batch_submissions.values()) > 0

    # the same run up to its labels, which are made again under a job killed mid-way
    interrupted = tmp_path / "interrupted"
    shutil.copytree(reference, interrupted, symlinks=True)
    shutil.rmtree(interrupted / "results" / "labels")
    api = fake_anthropic()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_HOOK)
    monkeypatch.setenv("PYTHONPATH", str(hook))
    monkeypatch.setenv("SAIL_TEST_KILL_BEFORE_RENAME", KILL_AFTER_CREATE)
    result = snakemake(interrupted, "--cores", "2", LABELS, check=False)
    assert result.returncode != 0, "the labelling job was not killed"
    assert not (interrupted / LABELS).exists()
    assert sum(api.batch_submissions.values()) > 0
    monkeypatch.delenv("SAIL_TEST_KILL_BEFORE_RENAME")
    snakemake(interrupted, "--cores", "2", LABELS)
    api.server.shutdown()

    assert pl.read_parquet(interrupted / LABELS).equals(pl.read_parquet(reference / LABELS))
    assert api.batch_submissions == reference_api.batch_submissions
    assert max(api.batch_submissions.values()) == 1
    assert api.message_calls == reference_api.message_calls
    assert not list((interrupted / "results/labels/cache/batches").glob("*.json"))
