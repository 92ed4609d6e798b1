"""Headline numbers, reconstruction tables and the config ranking of one SAE."""

from __future__ import annotations

import polars as pl

from sail_core.columns import SPLITS
from sail_core.evaluate.protocol import HELD_OUT_SPLIT as HELD_OUT
from sail_core.metrics import RECOVERY_DEFINITIONS as DEFINITIONS
from sail_core.report.figures import METHOD_NAMES
from sail_core.report.html import Html, element, join, number, table, unavailable
from sail_core.report.sources import Missing, nested

TOP_METHOD = "sae_top_coefficients"
FINGERPRINT_METHODS = {
    "sparse_fp": "sparse fingerprint (top-K SAE features)",
    "dense_fp": "dense fingerprint (top-K dimensions)",
    "dense_full": "full dense embedding",
}
FINGERPRINT_LABELS = ("modality", "orientation", "sex")


def _kpi(name: str, value: str, note: str = "") -> Html:
    return element(
        "div",
        element("dt", name),
        element("dd", value),
        element("dd", note, class_="note") if note else None,
        class_="kpi",
    )


def _pair(first: object, second: object) -> str:
    return f"{number(first)} / {number(second)}"


def headline(metrics: dict | Missing, summary: dict | Missing, split: str) -> Html:
    """The key numbers of the SAE in one strip of boxes."""
    if isinstance(metrics, Missing) and isinstance(summary, Missing):
        return unavailable("Headline metrics", f"{metrics.reason}; {summary.reason}")
    metrics = {} if isinstance(metrics, Missing) else metrics
    summary = {} if isinstance(summary, Missing) else summary
    overall = nested(metrics, split, "overall") or {}
    held_out = nested(metrics, HELD_OUT, "overall") or {}
    reconstruction = summary.get("reconstruction") or {}
    top = nested(summary, "recovery", split, TOP_METHOD) or {}
    top_test = nested(summary, "recovery", HELD_OUT, TOP_METHOD) or {}
    mono = summary.get("monosemanticity") or {}
    sparse = nested(summary, "fingerprint", "sparse_fp") or {}
    detection = summary.get("structure_detection") or {}
    n_recovery = summary.get("recovery_n")
    boxes = [
        _kpi(
            "FVU",
            _pair(overall.get("fvu", reconstruction.get("fvu")), held_out.get("fvu")),
            f"{split} / {HELD_OUT} split, whole dictionary",
        ),
        _kpi(
            "r2_global_mean",
            _pair(
                overall.get("r2_global_mean", reconstruction.get("r2_global_mean")),
                held_out.get("r2_global_mean"),
            ),
            f"{split} / {HELD_OUT} split, whole dictionary",
        ),
        _kpi(
            "L0 inference / train",
            _pair(overall.get("l0_inference"), overall.get("l0_batchtopk")),
            "JumpReLU / BatchTopK",
        ),
        _kpi(
            "dead / dense fraction",
            _pair(overall.get("dead_fraction"), overall.get("dense_fraction")),
            f"dense: fires on > {number(overall.get('dense_threshold'))} of rows",
        ),
        _kpi(
            f"recovery at N={number(n_recovery)}",
            f"{' / '.join(number(top.get(name)) for name in DEFINITIONS)} ({split}); "
            f"{' / '.join(number(top_test.get(name)) for name in DEFINITIONS)} ({HELD_OUT})",
            "; ".join(
                filter(
                    None,
                    [
                        "ratio of means / mean of ratios / chance corrected",
                        nested(summary, "splits", "choices"),
                    ],
                )
            ),
        ),
        _kpi(
            "M_top10 / M_top50",
            _pair(mono.get("M_top10"), mono.get("M_top50")),
            mono.get("definition", ""),
        ),
        _kpi(
            f"fingerprint quality at K={number(summary.get('fingerprint_k'))}",
            number(sparse.get("quality")),
            f"{number(sparse.get('relative_to_dense_full'))} of the full dense embedding",
        ),
        _kpi(
            "structures detected",
            f"{number(detection.get('n_detected'))} of {number(detection.get('n_common'))}",
            f"one feature (chosen on {detection.get('selected_on', '?')}) with AUROC ≥ "
            f"{number(detection.get('threshold'))} on {detection.get('scored_on', '?')}",
        ),
    ]
    return element("dl", boxes, class_="kpis")


def reconstruction_tables(metrics: dict | Missing) -> Html:
    """Per split and nested level, and per split over the whole dictionary."""
    if isinstance(metrics, Missing):
        return unavailable("Reconstruction metrics", metrics.reason)
    level_rows, split_rows = [], []
    for split in SPLITS:
        result = metrics.get(split)
        if not isinstance(result, dict):
            continue
        for level in result.get("levels") or []:
            inference = level.get("inference") or {}
            batchtopk = level.get("batchtopk") or {}
            level_rows.append(
                [
                    split,
                    level.get("width"),
                    level.get("k"),
                    inference.get("fvu"),
                    inference.get("r2_global_mean"),
                    inference.get("l0"),
                    batchtopk.get("l0"),
                    batchtopk.get("fvu"),
                    inference.get("dead_fraction"),
                ]
            )
        overall = result.get("overall") or {}
        split_rows.append(
            [
                split,
                result.get("n_rows"),
                overall.get("fvu"),
                overall.get("r2_global_mean"),
                overall.get("cosine"),
                overall.get("l0_inference"),
                overall.get("l0_batchtopk"),
                overall.get("dead_fraction"),
                overall.get("dense_fraction"),
            ]
        )
    if not split_rows:
        return unavailable("Reconstruction metrics", "metrics.json has no train/val/test results")
    calibration = metrics.get("calibration") or {}
    return join(
        element("h4", "Whole dictionary, per split"),
        table(
            [
                "split",
                "rows",
                "FVU",
                "r2_global_mean",
                "mean cosine",
                "L0 inference",
                "L0 train (BatchTopK)",
                "dead fraction",
                "dense fraction",
            ],
            split_rows,
        ),
        element("h4", "Per nested level (prefix of the dictionary)"),
        table(
            [
                "split",
                "width",
                "k",
                "FVU",
                "r2_global_mean",
                "L0 inference",
                "L0 train (BatchTopK)",
                "FVU (BatchTopK)",
                "dead fraction",
            ],
            level_rows,
        )
        if level_rows
        else unavailable("Per-level metrics", "metrics.json has no levels"),
        element(
            "p",
            f"JumpReLU threshold {number(calibration.get('threshold'))} calibrated on "
            f"{number(calibration.get('rows'))} {calibration.get('split', '?')} rows for "
            f"L0 = {number(calibration.get('target_l0'))} "
            f"(reached {number(calibration.get('achieved_l0'))}).",
            class_="small",
        )
        if calibration
        else None,
    )


def recovery_table(summary: dict | Missing) -> Html:
    if isinstance(summary, Missing):
        return unavailable("Recovery", summary.reason)
    recovery = summary.get("recovery") or {}
    rows = [
        [
            split,
            METHOD_NAMES.get(method, method),
            values.get("n_targets"),
            values.get("mean_auc"),
            *(values.get(name) for name in DEFINITIONS),
            values.get("n_targets_continued"),
        ]
        for split in SPLITS
        for method, values in (recovery.get(split) or {}).items()
    ]
    if not rows:
        return unavailable("Recovery", "the summary holds no recovery results")
    return table(
        [
            "split",
            "features",
            "targets",
            "mean AUROC",
            *(n.replace("_", " ") for n in DEFINITIONS),
            "targets past the probe's non-zero coefficients (class-mean difference ranking)",
        ],
        rows,
    )


def fingerprint_table(summary: dict | Missing) -> Html:
    if isinstance(summary, Missing):
        return unavailable("Fingerprint retrieval", summary.reason)
    fingerprint = summary.get("fingerprint") or {}
    rows = [
        [
            description,
            values.get("n_references"),
            values.get("quality"),
            values.get("quality_sd"),
            values.get("relative_to_dense_full"),
            values.get("structure_jaccard"),
            *(
                f"{number(values.get(f'precision_{label}'))} / "
                f"{number(values.get(f'base_rate_{label}'))} / "
                f"{number(values.get(f'lift_{label}'), 2)}×"
                for label in FINGERPRINT_LABELS
            ),
        ]
        for method, description in FINGERPRINT_METHODS.items()
        if isinstance(values := fingerprint.get(method), dict)
    ]
    if not rows:
        return unavailable("Fingerprint retrieval", "the summary holds no fingerprint results")
    return table(
        [
            "retrieval by",
            "references",
            "quality",
            "sd",
            "rel. to full dense",
            "structure Jaccard",
            *(f"same {label}: precision / base rate / lift" for label in FINGERPRINT_LABELS),
        ],
        rows,
    )


def ranking_table(ranking: pl.DataFrame | Missing, config_metrics: dict, split: str) -> Html:
    """All configs of one encoder by final rank; `config_metrics` maps sae -> metrics.json."""
    if isinstance(ranking, Missing):
        return unavailable("Config ranking", ranking.reason)
    mono = ranking["mono_statistic"][0] if "mono_statistic" in ranking.columns else "mono"
    perf = ranking["perf_statistic"][0] if "perf_statistic" in ranking.columns else "perf"
    rows, classes = [], []
    for row in ranking.iter_rows(named=True):
        overall = nested(config_metrics.get(row["sae"]), split, "overall") or {}
        rows.append(
            [
                row.get("final_rank"),
                row["sae"],
                row.get("mono_value"),
                row.get("rank_mono"),
                row.get("perf_value"),
                row.get("rank_perf"),
                overall.get("fvu"),
                overall.get("r2_global_mean"),
                "selected" if row.get("selected") else "",
            ]
        )
        classes.append("selected" if row.get("selected") else None)
    return table(
        [
            "final rank",
            "config",
            mono,
            "rank",
            perf,
            "rank",
            f"FVU ({split})",
            f"r2_global_mean ({split})",
            "",
        ],
        rows,
        row_classes=classes,
    )


def overview_table(entries: list[tuple[Html, dict | Missing, dict | Missing]], split: str) -> Html:
    """One row per selected SAE: (link to its section, metrics.json, summary.json)."""
    rows = []
    for link, sae_metrics, summary in entries:
        overall = nested(sae_metrics, split, "overall") or {}
        summary = {} if isinstance(summary, Missing) else summary
        rows.append(
            [
                link,
                overall.get("fvu"),
                overall.get("r2_global_mean"),
                overall.get("l0_inference"),
                overall.get("dead_fraction"),
                nested(summary, "recovery", split, TOP_METHOD, "ratio_of_means"),
                nested(summary, "monosemanticity", "M_top10"),
                nested(summary, "fingerprint", "sparse_fp", "quality"),
            ]
        )
    return table(
        [
            "selected SAE",
            f"FVU ({split})",
            "r2_global_mean",
            "L0 inference",
            "dead fraction",
            "recovery (ratio of means)",
            "M_top10",
            "fingerprint quality",
        ],
        rows,
    )
