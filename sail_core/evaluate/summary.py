"""The headline numbers of one (encoder, SAE config) for the report."""

from __future__ import annotations

import math

import polars as pl

from sail_core.evaluate.detection import ALL_ROWS
from sail_core.evaluate.recovery import DEFINITIONS

RECONSTRUCTION_KEYS = ("fvu", "r2_global_mean")


def reconstruction_headline(sae_metrics: dict, split: str = "val") -> dict[str, float]:
    """FVU and r2_global_mean of the full dictionary on `split`, read from the SAE's
    metrics.json (`{split: {"overall": {...}}}`, see sail_core.sae.evaluate); NaN when the split
    had no rows (then metrics.json has no entry for it)."""
    if split not in sae_metrics:
        return {name: math.nan for name in RECONSTRUCTION_KEYS}
    overall = sae_metrics[split]["overall"]
    return {name: float(overall[name]) for name in RECONSTRUCTION_KEYS}


def _row(table: pl.DataFrame, **equal) -> dict | None:
    for column, value in equal.items():
        table = table.filter(pl.col(column).eq_missing(value))
    return table.row(0, named=True) if table.height else None


def build_summary(
    encoder: str,
    sae: str,
    sae_metrics: dict,
    recovery_summary: pl.DataFrame,
    mono_scores: pl.DataFrame,
    fingerprint_summary: pl.DataFrame,
    detection: pl.DataFrame,
    ranking: pl.DataFrame,
    common_prevalence: float,
    recovery_n: int,
    fingerprint_k: int,
    report_split: str,
) -> dict:
    recovery = {}
    for split in sorted(set(recovery_summary["split"])):
        for method in sorted(set(recovery_summary["method"])):
            row = _row(recovery_summary, method=method, split=split, n_features=recovery_n)
            if row:
                recovery.setdefault(split, {})[method] = {
                    name: row[name] for name in ("n_targets", "mean_auc", *DEFINITIONS)
                }
    scores = dict(mono_scores.iter_rows())
    fingerprint = {}
    for method in ("sparse_fp", "dense_fp", "dense_full"):
        row = _row(
            fingerprint_summary, method=method, k=None if method == "dense_full" else fingerprint_k
        )
        if row:
            fingerprint[method] = {k: v for k, v in row.items() if k not in ("method", "k")}
    own = _row(ranking, sae=sae)
    winners = ranking.filter(pl.col("selected"))["sae"].to_list()
    return {
        "encoder": encoder,
        "sae": sae,
        "reconstruction": reconstruction_headline(sae_metrics, report_split),
        "recovery_n": recovery_n,
        "recovery": recovery,
        "monosemanticity": {
            "M_top10": scores.get("m10_top10_mean", math.nan),
            "M_top50": scores.get("m10_top50_mean", math.nan),
            "definition": "mean of the 10 / 50 largest M(10) over scored features",
            "n_features_scored": scores.get("n_features_scored", math.nan),
        },
        "fingerprint_k": fingerprint_k,
        "fingerprint": fingerprint,
        "structure_detection": detection_summary(detection, common_prevalence),
        "ranking": {
            key: own[key]
            for key in (
                "mono_statistic",
                "mono_value",
                "perf_statistic",
                "perf_value",
                "rank_mono",
                "rank_perf",
                "final_rank",
                "selected",
            )
        }
        if own
        else {},
        "selected_configs": winners,
    }


def detection_summary(detection: pl.DataFrame, common_prevalence: float) -> dict:
    """The common structures (prevalence at least `common_prevalence`) over all rows and how many
    of them one feature detects at the detection threshold; the same counts within each stratum
    (modality and plane)."""
    common = detection.filter(pl.col("prevalence") >= common_prevalence)
    threshold = float(detection["threshold"][0]) if detection.height else math.nan
    detected = pl.col("best_auroc").fill_nan(None) >= threshold
    pooled = common.filter(pl.col("stratum") == ALL_ROWS)
    by_stratum = (
        common.filter(pl.col("stratum") != ALL_ROWS)
        .group_by("stratum")
        .agg(n_common=pl.len(), n_detected=detected.sum())
        .sort("stratum")
    )
    return {
        "common_prevalence": common_prevalence,
        "threshold": threshold,
        "n_common": pooled.height,
        "n_detected": int(pooled.select(detected.sum()).item()),
        "structures": pooled.select(
            "structure", "prevalence", "best_feature", "best_auroc"
        ).to_dicts(),
        "by_stratum": by_stratum.to_dicts(),
    }


def headline_line(summary: dict, report_split: str) -> str:
    """One readable line of the headline numbers."""
    recon = summary["reconstruction"]
    top = summary["recovery"].get(report_split, {}).get("sae_top_coefficients", {})
    sparse = summary["fingerprint"].get("sparse_fp", {})
    detected = summary["structure_detection"]
    parts = [
        f"{summary['encoder']}/{summary['sae']}",
        f"FVU {recon['fvu']:.4f}",
        f"R2(global mean) {recon['r2_global_mean']:.4f}",
        f"recovery@{summary['recovery_n']} ({report_split}) "
        + "/".join(f"{top.get(name, math.nan):.3f}" for name in DEFINITIONS)
        + " [ratio of means/mean of ratios/chance corrected]",
        f"M_top10 {summary['monosemanticity']['M_top10']:.3f}",
        f"M_top50 {summary['monosemanticity']['M_top50']:.3f}",
        f"fingerprint@{summary['fingerprint_k']} quality {sparse.get('quality', math.nan):.3f}",
        f"structures detected {detected['n_detected']}/{detected['n_common']} (all rows; "
        + ", ".join(
            f"{s['stratum']} {s['n_detected']}/{s['n_common']}" for s in detected["by_stratum"]
        )
        + ")",
        f"winner {', '.join(summary['selected_configs']) or '-'}",
    ]
    return " | ".join(parts)
