from sail_core.report.detection_section import detection_table
from sail_core.report.figures import detection_chart
from sail_core.report.metrics_section import headline
from sail_core.report.retrieval_section import _mean_grid


def _summary():
    return {
        "structure_detection": {
            "threshold": 0.9,
            "selected_on": "train",
            "scored_on": "test",
            "n_common": 2,
            "n_detected": 1,
            "n_detected_insample": 2,
            "structures": [
                {"structure": "liver", "heldout_auroc": 0.95, "insample_auroc": 0.99},
                {"structure": "heart", "heldout_auroc": 0.7, "insample_auroc": 0.93},
            ],
            "by_stratum": [
                {"stratum": "ct axial", "n_common": 1, "n_detected": 0, "n_detected_insample": 1}
            ],
            "strata_structures": [
                {"stratum": "ct axial", "structure": "liver", "heldout_auroc": 0.8},
                {"stratum": "ct axial", "structure": "brain", "heldout_auroc": float("nan")},
            ],
        }
    }


def test_detection_is_a_chart_per_stratum_with_held_out_counts_beside_in_sample():
    html = str(detection_table(_summary()))
    assert html.count("<img") == 1 and "<td>liver</td>" not in html
    assert "detected on test (feature chosen on train)" in html
    assert "in-sample maximum on train (optimistic)" in html


def test_detection_chart_sorts_each_stratum_and_marks_chance():
    figure = detection_chart(
        {"all rows": [("liver", 0.95), ("heart", 0.7)], "ct axial": [("liver", 0.8)]},
        0.9,
        "train",
        "test",
    )
    pooled, axial = figure.axes[:2]
    assert [t.get_text() for t in pooled.get_yticklabels()] == ["heart", "liver"]
    assert [t.get_text() for t in axial.get_yticklabels()] == ["liver"]
    assert any(list(line.get_xdata()) == [0.5, 0.5] for line in pooled.get_lines())


def test_retrieval_precision_is_shown_with_its_base_rate_and_lift():
    summary = {
        "mean_precision_at_k": {
            "weighted": {
                "modality": {"precision": 0.9, "base_rate": 0.8, "lift": 1.125, "n_queries": 3}
            }
        }
    }
    html = str(_mean_grid(summary, ["modality"]))
    assert "0.9 (base 0.8), lift 1.1" in html


def test_headline_shows_test_beside_val():
    metrics = {"val": {"overall": {"fvu": 0.1}}, "test": {"overall": {"fvu": 0.2}}}
    summary = {
        "recovery_n": 10,
        "recovery": {
            "val": {"sae_top_coefficients": {"ratio_of_means": 0.9}},
            "test": {"sae_top_coefficients": {"ratio_of_means": 0.8}},
        },
        "splits": {"choices": "selected on val"},
    }
    html = str(headline(metrics, summary, "val"))
    assert "0.1 / 0.2" in html and "val / test split" in html
    assert "0.9 / — / — (val); 0.8 / — / — (test)" in html
    assert "selected on val" in html
