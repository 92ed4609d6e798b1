import math

import polars as pl
import pytest

from sail_core.evaluate.summary import build_summary, headline_line, reconstruction_headline


def test_reconstruction_headline_reads_the_overall_entry_of_the_split():
    metrics = {
        "val": {"overall": {"fvu": 0.1, "r2_global_mean": 0.95}, "levels": [{"fvu": 0.3}]},
        "train": {"overall": {"fvu": 0.05, "r2_global_mean": 0.97}},
    }
    assert reconstruction_headline(metrics, "val") == {"fvu": 0.1, "r2_global_mean": 0.95}
    assert reconstruction_headline(metrics, "train")["fvu"] == 0.05


def test_a_split_without_rows_gives_nan_and_a_malformed_file_fails():
    headline = reconstruction_headline({"train": {"overall": {"fvu": 0.1}}}, "val")
    assert math.isnan(headline["fvu"]) and math.isnan(headline["r2_global_mean"])
    with pytest.raises(KeyError):
        reconstruction_headline({"val": {"fvu": 0.1}}, "val")


def test_summary_collects_the_headline_numbers():
    recovery = pl.DataFrame(
        {
            "method": ["sae_top_coefficients"] * 3,
            "n_features": [1, 10, 10],
            "split": ["val", "val", "test"],
            "n_targets": [3, 3, 3],
            "mean_auc": [0.6, 0.8, 0.75],
            "ratio_of_means": [0.7, 0.9, 0.85],
            "mean_of_ratios": [0.72, 0.91, 0.86],
            "chance_corrected": [0.3, 0.8, 0.7],
        }
    )
    scores = pl.DataFrame({"statistic": ["m10_top10_mean", "m10_top50_mean"], "value": [0.7, 0.3]})
    fingerprint = pl.DataFrame(
        {
            "method": ["sparse_fp", "sparse_fp", "dense_full"],
            "k": [1, 5, None],
            "quality": [0.8, 0.9, 0.95],
        }
    )
    detection = pl.DataFrame(
        {
            "stratum": ["all", "all", "all", "ct axial", "ct axial"],
            "structure": ["liver", "brain", "sternum", "liver", "brain"],
            "prevalence": [0.2, 0.1, 0.01, 0.3, 0.2],
            "best_feature": [3, 7, 9, 3, 7],
            "heldout_auroc": [0.95, 0.85, 0.99, 0.97, 0.88],
            "insample_auroc": [0.97, 0.93, 0.99, 0.98, 0.93],
            "threshold": [0.9] * 5,
            "selected_on": ["train"] * 5,
            "scored_on": ["test"] * 5,
        }
    )
    ranking = pl.DataFrame(
        {
            "sae": ["a", "b"],
            "mono_statistic": ["m10_top10_mean"] * 2,
            "mono_value": [0.7, 0.5],
            "perf_statistic": ["mean_n_features"] * 2,
            "perf_value": [3.0, 4.0],
            "rank_mono": [1, 2],
            "rank_perf": [1, 2],
            "final_rank": [1, 2],
            "selected": [True, False],
        }
    )
    summary = build_summary(
        "enc",
        "b",
        {
            "val": {"overall": {"fvu": 0.1, "r2_global_mean": 0.9}},
            "test": {"overall": {"fvu": 0.12, "r2_global_mean": 0.88}},
        },
        recovery,
        scores,
        fingerprint,
        detection,
        ranking,
        0.05,
        10,
        5,
        "val",
    )
    assert summary["recovery"]["val"]["sae_top_coefficients"]["ratio_of_means"] == 0.9
    assert (summary["monosemanticity"]["M_top10"], summary["monosemanticity"]["M_top50"]) == (
        0.7,
        0.3,
    )
    assert summary["fingerprint"]["sparse_fp"]["quality"] == 0.9
    assert summary["fingerprint"]["dense_full"]["quality"] == 0.95
    assert (
        summary["structure_detection"]["n_common"],
        summary["structure_detection"]["n_detected"],
    ) == (2, 1)
    assert summary["structure_detection"]["n_detected_insample"] == 2  # labelled, not headline
    assert summary["structure_detection"]["by_stratum"] == [
        {"stratum": "ct axial", "n_common": 2, "n_detected": 1, "n_detected_insample": 2}
    ]
    assert summary["ranking"]["final_rank"] == 2 and summary["selected_configs"] == ["a"]
    line = headline_line(summary, "val")
    assert "recovery@10 (val) 0.900/0.910/0.800 (test) 0.850/0.860/0.700" in line
    assert "FVU 0.1000 (val) 0.1200 (test)" in line
    assert "winner a (selected on val)" in line
    assert summary["recovery"]["test"]["sae_top_coefficients"]["ratio_of_means"] == 0.85
    assert summary["reconstruction_test"]["r2_global_mean"] == 0.88  # the test entry, not val
    assert summary["splits"]["choices"] == "selected on val"
    leaked = build_summary(
        "enc", "b", {}, recovery, scores, fingerprint, detection, ranking, 0.05, 10, 5, "val",
        keys_selecting_on_test=("mining.splits",),
    )  # fmt: skip
    assert leaked["splits"]["choices"] == "selected on val+test (selected on test)"
    assert "(selected on test)" in headline_line(leaked, "val")
    assert "structures detected 1/2 (feature chosen on train, scored on test; ct axial 1/2)" in line
