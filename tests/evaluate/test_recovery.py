import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core.evaluate.probes import METRICS_SCHEMA, run_probes
from sail_core.evaluate.recovery import (
    CONTINUED_RANKING,
    CURVE_SCHEMA,
    PROBE_RANKING,
    RecoverySettings,
    run_recovery,
    sae_feature_order,
    summary_table,
    threshold_table,
)


def _curves(rows):
    """Curves from (target, n, val_auc) triples of method sae_top_coefficients."""
    return pl.DataFrame(
        [
            {
                "group": "g",
                "target": t,
                "method": "sae_top_coefficients",
                "n_features": n,
                "split": "val",
                "n_rows": 10,
                "n_positive": 5,
                "roc_auc": auc,
                "f1": 0.5,
                "balanced_accuracy": 0.5,
                "c": 1.0,
            }
            for t, n, auc in rows
        ],
        schema=CURVE_SCHEMA,
    )


def test_thresholds_with_nan_aucs_and_unreached_fractions():
    curves = _curves(
        [
            ("a", 1, 0.6),
            ("a", 2, math.nan),
            ("a", 3, 0.9),
            ("b", 1, 0.5),
            ("b", 2, 0.55),
            ("b", 3, math.nan),
            ("c", 1, 0.9),
            ("c", 2, 0.9),
            ("c", 3, 0.9),
        ]
    )
    dense = {("g", "a"): 0.9, ("g", "b"): 1.0, ("g", "c"): math.nan}
    table = threshold_table(curves, dense, (0.5, 0.6, 2 / 3, 1.0), "val")
    reached = {
        (t, f): n for t, f, n in table.select("target", "fraction", "n_features").iter_rows()
    }
    assert reached[("a", 0.5)] == 1.0  # 0.6 / 0.9 = 0.67
    assert reached[("a", 2 / 3)] == 1.0
    assert reached[("a", 1.0)] == 3.0  # the NaN at N = 2 is passed over
    assert reached[("b", 0.5)] == 1.0
    assert math.isnan(reached[("b", 0.6)])  # 0.55 never reaches 0.6 of 1.0
    assert all(math.isnan(reached[("c", f)]) for f in (0.5, 1.0))  # no dense baseline


def test_summary_uses_the_three_definitions_pairwise():
    curves = _curves([("a", 10, 0.8), ("b", 10, 0.7), ("c", 10, math.nan)])
    metrics = pl.DataFrame(
        [
            {
                "group": "g",
                "target": t,
                "feature_type": ft,
                "split": "val",
                "roc_auc": auc,
                "n_features": 64,
            }
            for t, ft, auc in [
                ("a", "dense", 0.9),
                ("b", "dense", 0.8),
                ("c", "dense", 0.95),
                ("a", "sparse", 0.85),
                ("b", "sparse", 0.75),
                ("c", "sparse", 0.9),
            ]
        ],
        schema_overrides={k: v for k, v in METRICS_SCHEMA.items() if k in ("n_features",)},
    )
    summary = summary_table(curves, metrics)
    at_10 = summary.filter(pl.col("n_features") == 10).row(0, named=True)
    assert at_10["n_targets"] == 2
    assert at_10["ratio_of_means"] == pytest.approx(0.75 / 0.85)
    assert at_10["mean_of_ratios"] == pytest.approx((0.8 / 0.9 + 0.7 / 0.8) / 2)
    assert at_10["chance_corrected"] == pytest.approx((0.3 / 0.4 + 0.2 / 0.3) / 2)
    full = summary.filter(pl.col("method") == "sae_all_features").row(0, named=True)
    assert (full["n_features"], full["n_targets"]) == (64, 3)


def test_a_planted_feature_recovers_its_organ_with_one_feature(tmp_path, planted, probe_settings):
    groups = {
        "organs": {"kind": "presence", "classes": ["liver", "brain"]},
        "sex": {"kind": "multiclass", "column": "gender", "classes": ["f", "m"]},
    }
    run_probes(
        planted["index"], planted["store"], planted["load_dense"], groups, probe_settings, tmp_path
    )
    settings = RecoverySettings(
        n_values=(1, 3, 100),
        fractions=(0.5, 0.9, 1.0),
        min_dense_auc=0.6,
        report_split="val",
        methods=("sae_top_coefficients", "pca", "random_features"),
    )
    result = run_recovery(
        planted["index"],
        planted["store"],
        planted["load_dense"],
        tmp_path,
        groups,
        probe_settings.fit,
        True,
        settings,
    )
    assert set(result.curves["target"]) == {"liver", "brain"}  # sex has no signal: not refitted
    assert set(result.curves["n_features"]) == {1, 3}  # 100 exceeds the 20 ranked features
    one = result.curves.filter(
        (pl.col("method") == "sae_top_coefficients")
        & (pl.col("n_features") == 1)
        & (pl.col("split") == "val")
    )
    assert one["roc_auc"].min() >= 0.9
    reached = result.thresholds.filter(
        (pl.col("method") == "sae_top_coefficients") & (pl.col("fraction") == 0.9)
    )
    assert reached["n_features"].to_list() == [1.0, 1.0]
    random_one = result.summary.filter(
        (pl.col("method") == "random_features")
        & (pl.col("n_features") == 1)
        & (pl.col("split") == "val")
    ).row(0, named=True)
    assert random_one["chance_corrected"] < 0.5


def test_sae_order_continues_past_the_probe_support_with_class_mean_difference():
    y = np.array([True, False] * 20)
    x = np.zeros((40, 6))
    x[:, 5] = y * 2.0  # the probe's one non-zero coefficient
    x[:, 3] = y + 0.1 * np.arange(40) % 2  # separates the classes, but carries no probe weight
    x[::3, 4] = 1.0  # unrelated to the target
    padded = np.array([5, 0, 1, 2, 3, 4])  # old padding: zero weights in index order
    order = sae_feature_order(padded, 1, sp.csr_matrix(x), y, "class_mean_difference")
    assert order.tolist()[:2] == [5, 3]
    assert 0 not in order.tolist()  # never active on train: not ranked at all
    assert sae_feature_order(padded, 1, sp.csr_matrix(x), y, "none").tolist() == [5]


def test_recovery_curves_say_which_ranking_chose_their_features(tmp_path, planted, probe_settings):
    groups = {"organs": {"kind": "presence", "classes": ["liver"]}}
    run_probes(
        planted["index"], planted["store"], planted["load_dense"], groups, probe_settings, tmp_path
    )
    settings = RecoverySettings(
        n_values=(1, 2, 30),
        fractions=(0.9,),
        min_dense_auc=0.6,
        report_split="val",
        methods=("sae_top_coefficients",),
    )
    result = run_recovery(
        planted["index"],
        planted["store"],
        planted["load_dense"],
        tmp_path,
        groups,
        probe_settings.fit,
        True,
        settings,
    )
    curve = result.curves.filter(pl.col("split") == "val").sort("n_features")
    n_nonzero = curve["n_nonzero"][0]
    assert 1 <= n_nonzero < 30  # the l1 probe on one planted feature stays sparse
    expected = [PROBE_RANKING if n <= n_nonzero else CONTINUED_RANKING for n in (1, 2, 30)]
    assert curve["ranking"].to_list() == expected
    at_30 = result.summary.filter(
        (pl.col("method") == "sae_top_coefficients") & (pl.col("n_features") == 30)
    )
    assert at_30["n_targets_continued"].to_list() == [1] * at_30.height
    stopped = run_recovery(
        planted["index"],
        planted["store"],
        planted["load_dense"],
        tmp_path,
        groups,
        probe_settings.fit,
        True,
        RecoverySettings(**{**settings.__dict__, "continuation": "none"}),
    )
    assert stopped.curves["n_features"].max() <= n_nonzero
