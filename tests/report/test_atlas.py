import html
import json
import re
import shutil
from dataclasses import replace

import polars as pl

from sail_core.report.atlas import build_atlas
from sail_core.report.features_section import FeatureTables, listed_features
from sail_core.report.sources import Missing

EVIL_LABEL = "<script>alert(1)</script>"  # the label of feature 5 in the results tree
EVIL_INSTITUTE = '<img src=x onerror="alert(2)">'
LABELLED = [3, 5, 7, 1]


def _cards(page: str) -> list[int]:
    return [int(f) for f in re.findall(r'<article class="feature"[^>]*data-feature="(\d+)"', page)]


def test_text_from_the_labeller_and_metadata_is_escaped(results_tree):
    page = build_atlas(results_tree.data, results_tree.saes, results_tree.settings)
    assert EVIL_LABEL not in page
    assert html.escape(EVIL_LABEL) in page
    assert "Coronal MRI &amp; T2 &lt;pelvis&gt;" in page
    assert "<b>truncated</b>" not in page
    assert "&lt;b&gt;truncated&lt;/b&gt;" in page
    assert page.count("<script") == 1


def test_metadata_strings_in_tables_are_escaped(results_tree):
    tree = results_tree
    pl.DataFrame({"split": [EVIL_INSTITUTE], "scans": [1]}).write_csv(
        tree.data.split_summary, separator="\t"
    )
    page = build_atlas(tree.data, tree.saes, tree.settings)
    assert EVIL_INSTITUTE not in page
    assert html.escape(EVIL_INSTITUTE) in page


def test_atlas_holds_every_part_of_the_selected_sae(results_tree):
    page = build_atlas(results_tree.data, results_tree.saes, results_tree.settings)
    for text in (
        "FVU",
        "r2_global_mean",
        "L0 inference / train",
        "dead / dense fraction",
        "recovery at N=10",
        "M_top10 / M_top50",
        "fingerprint quality at K=5",
        "Per nested level",
        "Training curves",
        "Config ranking of enc",
        "At a glance",
        '<a href="#enc-D8-32_K2-4">enc/D8-32_K2-4</a>',
        "D8-32_K2-4",
        "D16-64_K4-8",
        "contrastive success",
        "Mean precision@10 per constraint",
        "offline label",
        "s0099",
    ):
        assert text in page, text
    assert page.count('class="thumb relevant"') == 3
    assert page.count('class="thumb irrelevant"') == 1
    # figures (training, recovery, structure detection), slices, thumbs, panels
    assert page.count("data:image/png;base64,") == 3 + 1 + 4 + 11


def test_features_are_listed_labelled_first_then_by_firing(results_tree):
    page = build_atlas(results_tree.data, results_tree.saes, results_tree.settings)
    cards = _cards(page)
    assert cards[: len(LABELLED)] == LABELLED
    assert cards[len(LABELLED) :] == [0, 2, 4, 6, 8, 9, 10]  # by n_fires; 11 never fires
    assert "11 features listed of 11 that fire" in page


def test_max_features_caps_the_list(results_tree):
    settings = replace(results_tree.settings, max_features=2)
    page = build_atlas(results_tree.data, results_tree.saes, settings)
    assert _cards(page) == [3, 5]


def test_missing_pieces_are_shown_as_not_available(results_tree):
    files = results_tree.saes[0]
    for path in (files.labels, files.retrieval("precision.parquet"), files.training_curves):
        path.unlink()
    shutil.rmtree(files.panels)
    files.metrics.write_text(json.dumps({"val": {"overall": {"fvu": 0.3}}}))
    page = build_atlas(results_tree.data, results_tree.saes, results_tree.settings)
    assert f"{files.labels} does not exist" in page
    assert f"{files.retrieval('precision.parquet')} does not exist" in page
    assert f"{files.training_curves} does not exist" in page
    assert f"{files.panel(3)} does not exist" in page
    assert "metrics.json has no levels" in page
    assert "0.3" in page
    assert _cards(page)[:2] == [0, 1]  # no labels: by firing count


def test_a_table_that_lost_a_column_is_reported_by_name(results_tree):
    files = results_tree.saes[0]
    pl.read_parquet(files.enrichment).drop("lift").write_parquet(files.enrichment)
    page = build_atlas(results_tree.data, results_tree.saes, results_tree.settings)
    assert f"{files.enrichment} lacks column(s) lift" in page
    assert len(_cards(page)) == 11


def test_listed_features_tolerate_missing_tables():
    stats = pl.DataFrame({"feature": [0, 1, 2], "n_fires": [1, 0, 5]})
    missing = Missing("gone")
    tables = FeatureTables(stats, missing, missing, missing, missing)
    assert listed_features(tables, 10) == [2, 0]
    assert listed_features(FeatureTables(missing, missing, missing, missing, missing), 10) == []


def test_an_atlas_without_selected_saes_shows_the_data(results_tree):
    page = build_atlas(results_tree.data, [], results_tree.settings)
    assert "0 selected SAE configuration(s): none" in page
    assert "Slices per modality and orientation" in page
    assert _cards(page) == []
