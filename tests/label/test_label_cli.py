import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sail_core.cli import main
from sail_core.io import write_parquet
from sail_core.label.offline import OfflineLabeller
from sail_core.label.run import SelectionSettings, choose_features, label_selection

SAIL = Path(sys.executable).parent / "sail"


def labelled_run(world, tmp_path) -> Path:
    run = tmp_path / "results"
    shutil.copytree(world["run"], run)
    settings = SelectionSettings(
        "frequency_enrichment", 8, 4, 5, 3, ("train",), True, "monosemanticity_10", 0
    )
    selection, picks = choose_features(
        world["stats"], world["top_slices"], world["enrichment"], None, settings
    )
    labeller = OfflineLabeller(consistency=0.8, region_share=0.6)
    labels, _ = label_selection(selection, picks, world["index"], labeller, None, None)
    write_parquet(labels, run / "labels" / "enc" / "D16-64_K4-8" / "offline.parquet")
    return run


@pytest.mark.slow
def test_sail_query_prints_slices_and_writes_a_panel(world, tmp_path):
    run = labelled_run(world, tmp_path)
    panel = tmp_path / "panel.png"
    result = subprocess.run(
        [str(SAIL), "query", "Axial CT of the skull and brain", "--run", str(run),
         "--top", "3", "--out", str(panel)],
        capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "constraints read from the query: modality, orientation, anatomy" in out
    assert "CT of the brain and skull" in out
    assert "precision_at_k" in out and out.count("┆ ct ") == 3
    image = Image.open(panel)
    assert image.format == "PNG" and image.size[0] == 3 * 128


def test_sail_query_names_what_is_missing(tmp_path, capsys):
    assert main(["query", "Axial CT of the skull", "--run", str(tmp_path)]) == 2
    assert "labels/<encoder>/<sae>/offline.parquet" in capsys.readouterr().err
