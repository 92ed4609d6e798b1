"""The headline numbers of one (encoder, SAE config) for the report."""

from __future__ import annotations

import math

import polars as pl

from sail_core.evaluate.detection import ALL_ROWS
from sail_core.evaluate.protocol import HELD_OUT_SPLIT, selection_note
from sail_core.metrics import RECOVERY_DEFINITIONS as DEFINITIONS

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
    keys_selecting_on_test: tuple[str, ...] = (),
) -> dict:
    """The summary of one config. `keys_selecting_on_test` are the config keys allowed to select
    on test (protocol.check_selection_splits with the opt-in set): the choices are then marked
    "selected on test"."""
    recovery = {}
    for split in sorted(set(recovery_summary["split"])):
        for method in sorted(set(recovery_summary["method"])):
            row = _row(recovery_summary, method=method, split=split, n_features=recovery_n)
            if row:
                recovery.setdefault(split, {})[method] = {
                    name: row.get(name)
                    for name in ("n_targets", "mean_auc", *DEFINITIONS, "n_targets_continued")
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
        "reconstruction_test": reconstruction_headline(sae_metrics, HELD_OUT_SPLIT),
        "splits": {
            "choices": selection_note(
                [report_split, HELD_OUT_SPLIT] if keys_selecting_on_test else [report_split]
            ),
            "keys_selecting_on_test": list(keys_selecting_on_test),
            "recovery_thresholds_and_ranking": report_split,
            "reported": sorted(recovery),
            "sae_checkpoint_and_threshold": "val",
        },
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


def _first(table: pl.DataFrame, column: str, default: str) -> str:
    return str(table[column][0]) if column in table.columns and table.height else default


def detection_summary(detection: pl.DataFrame, common_prevalence: float) -> dict:
    """The common structures (held-out prevalence at least `common_prevalence`) over all rows and
    how many of them the feature chosen on the selection split detects on the held-out split at
    the detection threshold; the same counts within each stratum (modality and plane). The
    in-sample maximum is kept beside it, labelled, never as the headline."""
    common = detection.filter(pl.col("prevalence") >= common_prevalence)
    threshold = float(detection["threshold"][0]) if detection.height else math.nan
    detected = pl.col("heldout_auroc").fill_nan(None) >= threshold
    insample = pl.col("insample_auroc").fill_nan(None) >= threshold
    pooled = common.filter(pl.col("stratum") == ALL_ROWS)
    by_stratum = (
        common.filter(pl.col("stratum") != ALL_ROWS)
        .group_by("stratum")
        .agg(n_common=pl.len(), n_detected=detected.sum(), n_detected_insample=insample.sum())
        .sort("stratum")
    )
    strata = detection.filter(pl.col("stratum") != ALL_ROWS).select(
        "stratum", "structure", "prevalence", "best_feature", "heldout_auroc", "insample_auroc"
    )
    return {
        "common_prevalence": common_prevalence,
        "threshold": threshold,
        "selected_on": _first(detection, "selected_on", "?"),
        "scored_on": _first(detection, "scored_on", "?"),
        "n_common": pooled.height,
        "n_detected": int(pooled.select(detected.sum()).item()),
        "n_detected_insample": int(pooled.select(insample.sum()).item()),
        "insample_note": "in-sample maximum over all features on the selection split "
        "(optimistic; not the headline)",
        "structures": pooled.select(
            "structure", "prevalence", "best_feature", "heldout_auroc", "insample_auroc"
        ).to_dicts(),
        "by_stratum": by_stratum.to_dicts(),
        "strata_structures": strata.to_dicts(),
    }


def _recovery_text(summary: dict, split: str) -> str:
    top = summary["recovery"].get(split, {}).get("sae_top_coefficients", {})
    return f"({split}) " + "/".join(f"{top.get(name, math.nan):.3f}" for name in DEFINITIONS)


def headline_line(summary: dict, report_split: str) -> str:
    """One readable line of the headline numbers."""
    recon = summary["reconstruction"]
    recon_test = summary.get("reconstruction_test") or {}
    recovery = [
        _recovery_text(summary, split) for split in dict.fromkeys([report_split, HELD_OUT_SPLIT])
    ]
    sparse = summary["fingerprint"].get("sparse_fp", {})
    detected = summary["structure_detection"]
    parts = [
        f"{summary['encoder']}/{summary['sae']}",
        f"FVU {recon['fvu']:.4f} ({report_split}) {recon_test.get('fvu', math.nan):.4f} (test)",
        f"R2(global mean) {recon['r2_global_mean']:.4f} ({report_split}) "
        f"{recon_test.get('r2_global_mean', math.nan):.4f} (test)",
        f"recovery@{summary['recovery_n']} "
        + " ".join(recovery)
        + " [ratio of means/mean of ratios/chance corrected]",
        f"M_top10 {summary['monosemanticity']['M_top10']:.3f}",
        f"M_top50 {summary['monosemanticity']['M_top50']:.3f}",
        f"fingerprint@{summary['fingerprint_k']} quality {sparse.get('quality', math.nan):.3f}",
        f"structures detected {detected['n_detected']}/{detected['n_common']} (feature chosen "
        f"on {detected['selected_on']}, scored on {detected['scored_on']}; "
        + ", ".join(
            f"{s['stratum']} {s['n_detected']}/{s['n_common']}" for s in detected["by_stratum"]
        )
        + ")",
        f"winner {', '.join(summary['selected_configs']) or '-'} "
        f"({summary.get('splits', {}).get('choices', '?')})",
    ]
    return " | ".join(parts)
