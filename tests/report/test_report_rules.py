"""The report rules on a hand-built results tree: figures, the atlas and `snakemake --report`."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).parents[2]

# the functions of rules/common.smk that the report rules call, answered for the tree
SNAKEFILE = """
from sail_core.layout import Layout

configfile: "config.yaml"


RESULTS = Layout("results")
IMPORTED_SAES = []


def selected_saes():
    return [("enc", "D8-32_K2-4")]


def sae_names(encoder):
    return ["D8-32_K2-4", "D16-64_K4-8"]


def sae_history(wildcards):
    return str(RESULTS.sae_file("history.parquet").fill(encoder=wildcards.encoder, sae=wildcards.sae))


def sae_metrics(wildcards):
    return str(RESULTS.sae_file("metrics.json").fill(encoder=wildcards.encoder, sae=wildcards.sae))


def slice_stores():
    return [str(p) for p in RESULTS.slice_store.glob()]


include: "{rules}"
"""
CONFIG = {
    "report": {"title": "Atlas under test", "max_features": 20, "enrichment_rows": 3,
               "thumbnail_px": 32, "example_slices": 2},
    "labelling": {"labeller": "offline"},
    "evaluation": {"recovery": {"report_split": "val", "min_dense_auc": 0.6}},
    "embedding": {"encoders": {"enc": {}}},
}  # fmt: skip


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(workdir / "Snakefile"),
         "--directory", str(workdir), "--cores", "1", *args],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=path),
    )  # fmt: skip
    assert result.returncode == 0, f"snakemake {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_rules_build_the_atlas_and_the_snakemake_report(bare_results_tree):
    workdir = bare_results_tree.root.parent
    (workdir / "Snakefile").write_text(SNAKEFILE.format(rules=REPO / "rules" / "report.smk"))
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    files = bare_results_tree.saes[0]

    _snakemake(workdir, "results/report/index.html")
    for figure in (
        files.training_curves,
        files.recovery_curves,
        bare_results_tree.data.example_slices,
    ):
        assert figure.read_bytes().startswith(b"\x89PNG"), figure
    page = (workdir / "results/report/index.html").read_text()
    assert "<title>Atlas under test</title>" in page
    assert "Training curves" in page and "not available" not in page

    _snakemake(workdir, "--report", "report.zip", "results/report/index.html")
    with zipfile.ZipFile(workdir / "report.zip") as archive:
        names = archive.namelist()
        report = archive.read(next(n for n in names if n.endswith("report.html"))).decode()
    for name in ("index.html", "example_slices.png", "training_curves.png", "recovery_curves.png"):
        assert any(n.endswith(f"/{name}") for n in names), name
    for text in ("Feature atlas", "recovery_curves.png", "Training of SAE D8-32_K2-4 on enc"):
        assert text in report, text
