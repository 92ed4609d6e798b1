"""The atlas parts of the universality stages: feature-card lines and the concepts page."""

from pathlib import Path

import numpy as np
import polars as pl

from sail_core.io import write_json, write_parquet
from sail_core.report.files import SaeFiles
from sail_core.report.universality_section import (
    aligned_pairs,
    card_universality,
    concepts_section,
    stability_summary,
    universality_inputs,
)


def href(files: SaeFiles, feature: int) -> str:
    return f"#{files.encoder}-{feature}"


def results(root: Path) -> tuple[SaeFiles, SaeFiles]:
    a, b = SaeFiles(root, "enc_a", "D4_K1", "offline"), SaeFiles(root, "enc_b", "D4_K1", "offline")
    write_parquet(pl.DataFrame({"feature": [0, 1], "label": ["<liver>", "spleen"]}), a.labels)
    write_parquet(pl.DataFrame({"feature": [2], "label": ["liver again"]}), b.labels)
    alignment = pl.DataFrame(
        {"side": ["a", "a", "b", "b"], "feature": [0, 1, 2, 3], "active": [True] * 4,
         "twin": [2, -1, 0, -1], "correlation": [0.9, np.nan, 0.9, np.nan],
         "best_correlation": [0.9, 0.1, 0.9, 0.2]}
    )  # fmt: skip
    write_parquet(alignment, a.alignment(b, "features.parquet"))
    write_parquet(
        pl.DataFrame({"feature_a": [0], "feature_b": [2], "correlation": [0.9],
                      "label_a": ["<liver>"], "label_b": ["liver again"]}),
        a.alignment(b, "shared.parquet"),
    )  # fmt: skip
    write_parquet(
        pl.DataFrame({"encoder": ["enc_a", "enc_b"], "feature": [1, 3],
                      "best_correlation": [0.1, 0.2], "label": ["spleen", None],
                      "top_structures": [["spleen"], []]}),
        a.alignment(b, "unique.parquet"),
    )  # fmt: skip
    write_json(
        a.alignment(b, "summary.json"),
        {"threshold": 0.4, "null_quantile": 0.99, "null_permutations": 5, "n_rows": 10,
         "n_scans": 3, "shared": 1, "active_a": 2, "active_b": 2, "unique_a": 1, "unique_b": 1},
    )  # fmt: skip
    write_parquet(
        pl.DataFrame({"feature": [0, 1], "stability": [0.95, 0.05]}),
        a.stability("features.parquet"),
    )
    write_json(
        a.stability("summary.json"),
        {"main_seed": 0, "seeds": [1], "n_rows": 10, "splits": ["val"], "min_cosine": 0.7,
         "min_correlation": 0.5,
         "table": [{"features": "all", "level": "all", "n_features": 2,
                    "fraction_stable": 0.5, "mean_stability": 0.5}]},
    )  # fmt: skip
    return a, b


def test_cards_show_stability_and_a_linked_twin_or_its_absence(tmp_path):
    a, b = results(tmp_path)
    line = card_universality(a, [a, b], href)
    twin = line(0)
    assert "seed stability 0.95" in twin and 'href="#enc_b-2"' in twin and "liver again" in twin
    assert "no twin in enc_b" in line(1)
    back = card_universality(b, [a, b], href)(2)
    assert 'href="#enc_a-0"' in back and "&lt;liver&gt;" in back


def test_concepts_page_lists_shared_and_unique_concepts(tmp_path):
    a, b = results(tmp_path)
    page = concepts_section([a, b], href)
    assert "1 shared concepts" in page and "Only in enc_a (1)" in page and "spleen" in page
    assert "Seed stability" not in page
    assert "0.5" in stability_summary(a)
    assert "no extra training seeds" in stability_summary(b)
    b.stability("summary.json").parent.mkdir(parents=True)
    b.stability("summary.json").write_text("{broken")
    assert "not available" in stability_summary(b)


def test_report_inputs_name_every_pair_once_in_name_order(tmp_path):
    selected = [("enc_b", "D4_K1"), ("enc_a", "D4_K1"), ("enc_c", "D4_K1")]
    inputs = universality_inputs(tmp_path, selected, "offline", with_stability=False)
    summaries = [p for p in inputs["alignment"] if p.endswith("summary.json")]
    assert len(summaries) == 3 and not inputs["stability"]
    assert all("enc_b/D4_K1/enc_a" not in p for p in summaries)
    assert len(aligned_pairs([SaeFiles(tmp_path, "e", s, "x") for s in ("D1_K1", "D2_K1")])) == 0
