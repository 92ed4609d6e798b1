import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sail_core.cli import RunLayoutError, choose_labels, main
from sail_core.embed.store import write_embeddings
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
    many = subprocess.run(
        [str(SAIL), "query", "Axial CT of the skull and brain", "--run", str(run),
         "--top", "500", "--out", str(panel)],
        capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), check=False,
    )  # fmt: skip
    assert many.returncode == 0, many.stderr
    returned = many.stdout.count("┆ ct ")
    assert f"{returned} of the 500 slices asked for" in many.stdout
    precision_lines = [ln for ln in many.stdout.splitlines() if ln.startswith("│ modality")]
    assert precision_lines and f"┆ {returned} " in precision_lines[0]  # k = slices returned


def test_sail_query_names_what_is_missing(tmp_path, capsys):
    assert main(["query", "Axial CT of the skull", "--run", str(tmp_path)]) == 2
    assert "labels/{encoder}/{sae}/offline.parquet" in capsys.readouterr().err


def _labelled_config(run: Path, encoder: str, kind: str, joint_precision: float | None) -> None:
    (run / "labels" / encoder / "D8").mkdir(parents=True)
    (run / "labels" / encoder / "D8" / "offline.parquet").write_bytes(b"")
    write_embeddings(
        run / "embeddings" / encoder / "shard-0.zarr",
        np.zeros((1, 2), np.float32),
        np.arange(1),
        {"kind": kind, "index_hash": "h"},
    )
    if joint_precision is not None:
        summary = {"mean_precision_at_k": {"weighted": {"all": {"precision": joint_precision}}}}
        path = run / "retrieval" / encoder / "D8" / "offline" / "summary.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(summary))


def test_query_answers_with_the_best_pretrained_encoder_never_random_init_unless_named(tmp_path):
    _labelled_config(tmp_path, "a_random", "random_init", 0.9)  # first by name, best score
    _labelled_config(tmp_path, "b_weak", "hf", 0.2)
    _labelled_config(tmp_path, "c_strong", "efficientnet_lite0", 0.6)
    path, reason = choose_labels(tmp_path, None, None, "offline", "weighted")
    assert path.parent.parent.name == "c_strong" and "0.600" in reason
    named, why = choose_labels(tmp_path, "a_random", None, "offline", "weighted")
    assert (named.parent.parent.name, why) == ("a_random", "as named")


def test_query_refuses_a_run_with_only_random_init_encoders(tmp_path):
    _labelled_config(tmp_path, "random", "random_init", None)
    with pytest.raises(RunLayoutError, match="--encoder"):
        choose_labels(tmp_path, None, None, "offline", "weighted")
