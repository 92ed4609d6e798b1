"""The SLURM profile (profiles/slurm) on a real one-node SLURM cluster: Debian's slurmctld and
slurmd with munge, started by ci/slurm/start.sh (or already running from the same folder).

Skips, with the reason, where such a cluster cannot run: not root, SLURM not installed
(`bash ci/slurm/install.sh`), or daemons that do not come up.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).parents[2]
SCRIPTS = REPO / "ci" / "slurm"
PROFILE = REPO / "profiles" / "slurm"
STATE = Path(os.environ.get("SAIL_SLURM_DIR", "/tmp/sail-slurm"))
TOOLS = "munged mungekey munge slurmctld slurmd sbatch squeue sinfo scontrol scancel".split()
# the daemons live in sbin, which a PATH may lack
TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
WORKFLOW_TIMEOUT_S = 600

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm_env() -> dict[str, str]:
    """Environment for SLURM clients and Snakemake, with a running cluster behind it."""
    if os.geteuid() != 0:
        pytest.skip("SLURM test cluster needs root (slurmd runs jobs as their submitting user)")
    missing = [tool for tool in TOOLS if shutil.which(tool, path=TOOL_PATH) is None]
    if missing:
        pytest.skip(f"SLURM not installed ({', '.join(missing)} missing): run ci/slurm/install.sh")
    # partition, account and GPU settings of the caller's cluster must not reach this one
    env = {key: value for key, value in os.environ.items() if not key.startswith("SAIL_SLURM_")}
    env["SLURM_CONF"] = str(STATE / "etc" / "slurm.conf")
    started = run(["bash", str(SCRIPTS / "start.sh"), str(STATE)], env, timeout=120)
    if started.returncode != 0:
        reason = started.stderr.strip() or f"start.sh exited with {started.returncode}"
        pytest.skip(f"SLURM test cluster did not start: {reason.splitlines()[-1]}")
    started_here = "already running" not in started.stdout
    yield env
    if started_here:
        stopped = run(["bash", str(SCRIPTS / "stop.sh"), str(STATE)], env, timeout=120)
        assert stopped.returncode == 0, f"stop.sh failed:\n{stopped.stderr}"


def run(command: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def snakemake_slurm(workdir: Path, env: dict[str, str], *args: str) -> list[tuple[str, Path]]:
    """Runs Snakemake in `workdir` with the SLURM profile; (SLURM job id, log) per submission."""
    result = run(
        [
            sys.executable, "-m", "snakemake",
            "--directory", str(workdir),
            "--workflow-profile", str(PROFILE),
            # first status check after 2 s instead of 40 s; keep logs to inspect them
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-keep-successful-logs",
            *args,
        ],
        env,
        timeout=WORKFLOW_TIMEOUT_S,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake with the SLURM profile failed:\n{output}"
    return [(job_id, Path(log)) for job_id, log in SUBMITTED.findall(output)]


def job_record(job_id: str, env: dict[str, str]) -> dict[str, str]:
    """The controller's record of a job (kept MinJobAge seconds after it ends)."""
    shown = run(["scontrol", "show", "job", "--oneliner", job_id], env, timeout=30)
    assert shown.returncode == 0, f"scontrol show job {job_id}: {shown.stderr}"
    return dict(field.split("=", 1) for field in shown.stdout.split() if "=" in field)


def test_demo_slicing_runs_as_slurm_jobs_with_scans_grouped(slurm_env, tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["phantom"] = {"n_ct": 2, "n_mri": 1}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    scans = ["s0000", "s0001"]
    targets = [f"results/slices/ct/{scan}.parquet" for scan in scans]

    submissions = snakemake_slurm(
        tmp_path, slurm_env, "--snakefile", str(REPO / "Snakefile"), *targets
    )

    for scan in scans:
        assert (tmp_path / f"results/slices/ct/{scan}.parquet").is_file()
        assert (tmp_path / f"results/slices/ct/{scan}.zarr").is_dir()
    # phantom, subjects and one group job holding both slice_subject jobs
    log_folders = sorted(log.parent.name for _, log in submissions)
    assert len(submissions) == 3, f"expected 3 sbatch submissions, got {log_folders}"
    assert log_folders[0].startswith("group_slicing"), log_folders
    assert log_folders[1:] == ["rule_phantom", "rule_subjects"]
    for job_id, log in submissions:
        record = job_record(job_id, slurm_env)
        assert record["JobState"] == "COMPLETED", record
        assert Path(record["WorkDir"]) == tmp_path
        assert log.is_file(), f"no SLURM log {log}"
    group_log = next(log for _, log in submissions if log.parent.name.startswith("group_"))
    for target in targets:
        assert target in group_log.read_text(), f"{target} not made in SLURM job {group_log}"


def test_gpu_rule_gets_its_gpu_through_plugin_resources(slurm_env, tmp_path):
    # stands in for the pipeline's GPU rule `embed`: same name, so the profile's resources apply
    (tmp_path / "Snakefile").write_text(
        "rule embed:\n"
        '    output: "job.txt"\n'
        "    threads: 1\n"
        "    resources: gpu=1, mem_mb=1000, runtime=5\n"
        '    shell: "echo $SLURM_JOB_ID > {output}"\n'
    )

    submissions = snakemake_slurm(tmp_path, slurm_env, "--snakefile", str(tmp_path / "Snakefile"))

    assert len(submissions) == 1, submissions
    job_id, _ = submissions[0]
    assert (tmp_path / "job.txt").read_text().strip() == job_id
    record = job_record(job_id, slurm_env)
    assert record["JobState"] == "COMPLETED", record
    assert record.get("TresPerJob") == "gres:gpu:1", record
    assert record.get("CpusPerTres") == "gres:gpu:1", record
