import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sail_core.workflow_config import validate_config

REPO = Path(__file__).parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` with that folder's config.yaml."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run(
        [
            *SNAKEMAKE,
            "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that a dry run plans (empty when there is nothing to be done)."""
    result = snakemake(workdir, "--dry-run", "--cores", "1", *args)
    out = result.stdout + result.stderr
    counts: dict[str, int] = {}
    if "Job stats:" not in out:
        return counts
    table = out.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    counts.pop("total", None)
    return counts


def write_config(workdir: Path, config: dict) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def full_demo_config() -> dict:
    """The repository's config.yaml with every default filled in."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return validate_config(config, REPO / "schemas" / "config.schema.yaml")


@pytest.fixture
def demo_config() -> dict:
    return full_demo_config()


def replan(workdir: Path, config: dict, change) -> dict[str, int]:
    """Jobs a dry run plans after `change(config)`; the workdir's config is restored after."""
    changed = copy.deepcopy(config)
    change(changed)
    write_config(workdir, changed)
    try:
        return planned_jobs(workdir)
    finally:
        write_config(workdir, config)


def small_demo_config() -> dict:
    """The demo config, cut down: 12 scans, two random DINOv3 encoders with one SAE each and
    one extra stability seed."""
    config = full_demo_config()
    config["phantom"].update(n_ct=8, n_mri=4)
    random_dino = config["embedding"]["encoders"]["dinov3_random"]
    config["embedding"]["encoders"] = {
        "dino_a": copy.deepcopy(random_dino),
        "dino_b": copy.deepcopy(random_dino) | {"seed": 7},
    }
    config["sae"]["configs"] = {"dino_a": ["D32-128_K4-8"], "dino_b": ["D32-128_K4-8"]}
    config["sae"]["training"]["epochs"] = 5
    config["sae"]["stability_seeds"] = [1]
    config["universality"]["null_permutations"] = 5
    return config


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> tuple[Path, dict]:
    """A completed run of `small_demo_config`, shared by the workflow tests; tests that change
    its outputs work on a copy."""
    workdir = tmp_path_factory.mktemp("demo_run")
    config = small_demo_config()
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2")
    return workdir, config
