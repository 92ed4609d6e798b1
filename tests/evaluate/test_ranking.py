import math

import numpy as np
import polars as pl
import pytest

from sail_core.evaluate.ranking import (
    build_ranking,
    mean_n_features,
    rank_configs,
    recovery_curve_area,
)


def test_ranking_of_a_hand_built_table():
    table = pl.DataFrame(
        {
            "sae": ["a", "b", "c", "d"],
            "mono_value": [0.9, 0.5, 0.9, float("nan")],
            "perf_value": [20.0, 5.0, 10.0, 1.0],  # mean_n_features: fewer is better
        }
    )
    ranked = rank_configs(table, "mean_n_features")
    ranks = {
        r["sae"]: (r["rank_mono"], r["rank_perf"], r["final_rank"], r["selected"])
        for r in ranked.iter_rows(named=True)
    }
    # mono: a, c tie at 1, b 3, d (no value) last = 4; perf: d 1, b 2, c 3, a 4
    # combined: a 2.5, b 2.5, c 2.0, d 2.5 -> c first, the others tie at 2
    assert ranks == {
        "c": (1, 3, 1, True),
        "b": (3, 2, 2, False),
        "d": (4, 1, 2, False),
        "a": (1, 4, 2, False),
    }
    assert ranked["sae"].to_list() == ["c", "d", "b", "a"]  # ties ordered by rank_perf


def test_area_statistic_ranks_descending_and_named_configs_win():
    table = pl.DataFrame({"sae": ["a", "b"], "mono_value": [0.5, 0.5], "perf_value": [0.7, 0.9]})
    ranked = rank_configs(table, "recovery_curve_area")
    assert ranked.filter(pl.col("selected"))["sae"].to_list() == ["b"]
    named = rank_configs(table, "recovery_curve_area", named=["a"])
    assert named.filter(pl.col("selected"))["sae"].to_list() == ["a"]
    with pytest.raises(ValueError, match="not ranked: z"):
        rank_configs(table, "recovery_curve_area", named=["z"])
    with pytest.raises(ValueError, match="unknown perf_statistic"):
        rank_configs(table, "auc")


def test_recovery_curve_area_over_log_n():
    assert recovery_curve_area([1, 10, 100], [0.5, 1.0, 1.0]) == pytest.approx(0.875)
    assert recovery_curve_area([1, 10], [0.8, np.nan]) == pytest.approx(0.8)
    assert math.isnan(recovery_curve_area([1, 10], [np.nan, np.nan]))


def _thresholds(values):
    """method sae_top_coefficients, fractions 0.5 and 1.0 for targets t0, t1."""
    return pl.DataFrame(
        [
            {
                "group": "g",
                "target": f"t{i}",
                "method": "sae_top_coefficients",
                "split": "val",
                "dense_auc": 0.9,
                "fraction": fraction,
                "n_features": n,
            }
            for (i, fraction), n in values.items()
        ]
    )


def test_mean_n_features_fills_unreached_thresholds():
    table = _thresholds({(0, 0.5): 1.0, (1, 0.5): np.nan, (0, 1.0): np.nan, (1, 1.0): np.nan})
    # fraction 0.5: NaN -> max (1) + 1 = 2; fraction 1.0: nothing reached -> largest N = 100
    assert mean_n_features(table, largest_n=100) == pytest.approx((1 + 2 + 100 + 100) / 4)


def test_build_ranking_uses_common_targets_and_records_definitions():
    scores = {
        "x": pl.DataFrame({"statistic": ["m10_top10_mean"], "value": [0.4]}),
        "y": pl.DataFrame({"statistic": ["m10_top10_mean"], "value": [0.6]}),
    }
    x = _thresholds({(0, 0.5): 2.0, (1, 0.5): 2.0, (0, 1.0): 4.0, (1, 1.0): 4.0})
    y = _thresholds({(0, 0.5): 1.0, (1, 0.5): 1.0, (0, 1.0): 3.0, (1, 1.0): 30.0})
    y = y.with_columns(  # t1 is below the dense cut-off for y, so it is dropped everywhere
        pl.when(pl.col("target") == "t1")
        .then(0.55)
        .otherwise(pl.col("dense_auc"))
        .alias("dense_auc")
    )
    summaries = {"x": pl.DataFrame(), "y": pl.DataFrame()}
    ranking = build_ranking(
        "enc",
        scores,
        {"x": x, "y": y},
        summaries,
        "m10_top10_mean",
        "mean_n_features",
        0.6,
        "val",
        100,
    )
    rows = {r["sae"]: r for r in ranking.iter_rows(named=True)}
    assert rows["x"]["perf_value"] == pytest.approx(3.0)
    assert rows["y"]["perf_value"] == pytest.approx(2.0)
    assert rows["y"]["n_targets"] == 1 and rows["y"]["selected"]
    assert set(ranking["mono_statistic"]) == {"m10_top10_mean"}
    assert set(ranking["perf_statistic"]) == {"mean_n_features"}
    assert set(ranking["chosen_on"]) == {"selected on val"}
    with pytest.raises(ValueError, match="enc/x: no monosemanticity statistic 'm5_top10_mean'"):
        build_ranking(
            "enc",
            scores,
            {"x": x, "y": y},
            summaries,
            "m5_top10_mean",
            "mean_n_features",
            0.6,
            "val",
            100,
        )
