import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


@pytest.fixture
def demo_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())
