"""The three rules run by Snakemake on the tiny run, and what a config change replans."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from sail_core.workflow_config import validate_config

REPO = Path(__file__).parents[2]
STAGE_RULES = ("common.smk", "label.smk", "retrieval.smk")
TARGET = "results/retrieval/enc/D16-64_K4-8/offline/summary.json"


def config_block(config_path: Path = REPO / "config.yaml") -> dict:
    """The repository's labelling and retrieval config, selecting fewer features by a ranking
    the tiny run has inputs for (it has no evaluation stage)."""
    config = validate_config(
        yaml.safe_load(config_path.read_text()), REPO / "schemas" / "config.schema.yaml"
    )
    block = {key: config[key] for key in ("seed", "labelling", "retrieval")}
    block["labelling"]["selection"].update(ranking="frequency_enrichment", n_top=8, n_random=4)
    return block


def snakemake(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "snakemake", "--snakefile", str(workdir / "Snakefile")),
            *("--directory", str(workdir), "--cores", "1", *args),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def planned(workdir: Path) -> dict[str, int]:
    out = snakemake(workdir, "--dry-run", TARGET)
    return {
        rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", out, re.M) if rule != "total"
    }


@pytest.mark.slow
def test_rules_label_evaluate_and_retrieve_then_replan_only_what_changed(world, tmp_path):
    shutil.copytree(world["run"], tmp_path / "results")
    config = config_block()
    # the tiny run's scans, whose slice stores the labelling jobs declare as inputs
    scans = world["index"].unique(["modality", "image_id"])
    config["phantom"] = {f"n_{m}": int((scans["modality"] == m).sum()) for m in ("ct", "mri")}
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n'
        + "".join(f'include: "{REPO / "rules" / name}"\n' for name in STAGE_RULES)
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, TARGET)

    labels = pl.read_parquet(tmp_path / "results/labels/enc/D16-64_K4-8/offline.parquet")
    assert labels.height == 12 and set(labels["labeller"]) == {"offline"}
    precision = pl.read_parquet(
        tmp_path / "results/retrieval/enc/D16-64_K4-8/offline/precision.parquet"
    )
    queries = yaml.safe_load((REPO / "config" / "queries.yaml").read_text())
    assert set(precision["query"]) == {q["name"] for q in queries}
    assert planned(tmp_path) == {}

    def replan(change) -> dict[str, int]:
        changed = yaml.safe_load(yaml.safe_dump(config))
        change(changed)
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(changed))
        return planned(tmp_path)

    assert replan(lambda c: c["labelling"]["anthropic"].update(prompt_version="v2")) == {}
    assert replan(lambda c: c["labelling"].update(image_size=128)) == {}
    assert replan(lambda c: c["retrieval"].update(k=5)) == {"language_retrieval": 1}
    assert replan(lambda c: c["labelling"]["selection"].update(n_top=6)) == {
        "label_features": 1,
        "evaluate_labels": 1,
        "language_retrieval": 1,
    }

    # a rewritten slice store relabels: the labelling jobs read slices
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    store = tmp_path / "results/slices/ct/s0000.zarr"
    later = time.time() + 60
    for path in [store, *store.rglob("*")]:
        os.utime(path, (later, later))
    assert planned(tmp_path) == {
        "label_features": 1,
        "evaluate_labels": 1,
        "language_retrieval": 1,
    }
