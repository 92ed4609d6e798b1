import re
from pathlib import Path

import pytest

from sail_core.layout import PATTERNS, Layout, Pattern

ROOT = Path(__file__).parents[1]
TOP_FOLDERS = sorted({pattern.split("/")[0] for pattern in PATTERNS.values()})
FOLDERS = "|".join(["results", *TOP_FOLDERS])
# a quoted path that starts at the results root or at one of its top folders, or is joined to one
SPELLED_PATH = re.compile(rf"""["']({FOLDERS})/|/\s*["']({FOLDERS})["']""")


def test_patterns_fill_parse_and_partially_fill():
    layout = Layout("run")
    codes = layout.codes
    assert codes == "run/codes/{encoder}/{sae}.zarr" and codes.wildcards == ["encoder", "sae"]
    path = codes.fill(encoder="dino", sae="D8-32_K2-4")
    assert path == Path("run/codes/dino/D8-32_K2-4.zarr")
    assert codes.parse(path) == {"encoder": "dino", "sae": "D8-32_K2-4"}
    assert layout.labels.partial(labeller="offline") == "run/labels/{encoder}/{sae}/offline.parquet"
    with pytest.raises(KeyError, match="sae"):
        codes.fill(encoder="dino")
    with pytest.raises(ValueError, match="not a path of the form"):
        codes.parse("run/codes/dino/extra/x.zarr")
    with pytest.raises(AttributeError, match="no 'code'"):
        layout.code  # noqa: B018


def test_sae_files_live_in_the_trained_or_imported_folder():
    layout = Layout("results")
    assert layout.sae_file("metrics.json") == "results/sae/{encoder}/{sae}/metrics.json"
    assert layout.sae_file("metrics.json", imported=True).startswith("results/sae_imports/")
    with pytest.raises(ValueError, match="holds"):
        layout.sae_file("weights.pt")
    assert layout.job_timing("probe/{encoder}/{sae}") == "results/timings/probe/{encoder}/{sae}.tsv"


def test_glob_matches_unnamed_wildcards(tmp_path):
    layout = Layout(tmp_path)
    for encoder, sae in (("a", "D1-2_K1-1"), ("a", "D2-4_K1-1"), ("b", "D1-2_K1-1")):
        target = layout.labels.fill(encoder=encoder, sae=sae, labeller="offline")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    assert len(layout.labels.glob(labeller="offline")) == 3
    found = layout.labels.glob(encoder="a", sae=None, labeller="offline")
    assert [layout.labels.parse(p)["sae"] for p in found] == ["D1-2_K1-1", "D2-4_K1-1"]


def test_of_index_finds_the_results_root():
    assert Layout.of_index("x/run/slices/index.parquet").root == Path("x/run")
    assert Layout("x/run").slices == Path("x/run/slices")


def _sources():
    yield ROOT / "Snakefile"
    yield from sorted((ROOT / "rules").glob("*.smk"))
    yield from sorted((ROOT / "workflow_scripts").glob("*.py"))
    yield from sorted(p for p in (ROOT / "sail_core").rglob("*.py") if p.name != "layout.py")


def test_only_the_layout_spells_results_paths():
    spelled = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SPELLED_PATH.search(line)
    ]
    assert not spelled, "results paths spelled outside sail_core/layout.py:\n" + "\n".join(spelled)


def test_every_pattern_is_a_pattern():
    assert all(isinstance(getattr(Layout(), name), Pattern) for name in PATTERNS)
