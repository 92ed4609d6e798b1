"""How good the labels are: contrastive ranking and detection on held-out slices."""

from __future__ import annotations

import polars as pl

from sail_core.report.html import Html, element, join, table, unavailable
from sail_core.report.sources import Missing

OFFLINE_NOTE = "offline labeller: names built from slice metadata, no language model"
GROUPS = {"all": "all labelled", "top": "top selection", "random": "random selection"}


def _label_counts(labels: pl.DataFrame | Missing, labeller: str) -> Html:
    if isinstance(labels, Missing):
        return unavailable("Labels", labels.reason)
    usable = int((labels["status"] == "ok").sum()) if "status" in labels.columns else labels.height
    source = OFFLINE_NOTE if labeller == "offline" else f"{labeller} labeller (language model)"
    return element(
        "p", f"{labels.height} features labelled, {usable} with a usable label; {source}."
    )


def label_section(labels: pl.DataFrame | Missing, summary: dict | Missing, labeller: str) -> Html:
    if isinstance(summary, Missing):
        return join(
            _label_counts(labels, labeller), unavailable("Label evaluation", summary.reason)
        )
    judge = summary.get("judge") or {}
    results = summary.get("results") or {}
    rows = []
    for group, description in GROUPS.items():
        result = results.get(group)
        if not isinstance(result, dict):
            continue
        contrastive = result.get("contrastive") or {}
        detection = result.get("detection") or {}
        rows.append(
            [
                description,
                result.get("n_features"),
                contrastive.get("n_evaluated"),
                contrastive.get("success_rate"),
                contrastive.get("chance_success_rate"),
                contrastive.get("mean_rank"),
                contrastive.get("chance_mean_rank"),
                detection.get("n_evaluated"),
                detection.get("mean_auroc"),
                detection.get("mean_auroc_random"),
                detection.get("mean_auroc_hard"),
            ]
        )
    judge_line = f"Judge: {judge.get('judge', '?')}"
    if judge.get("note"):
        judge_line += f" — {judge['note']}"
    if judge.get("cost_usd") is not None:
        judge_line += f" (cost USD {judge['cost_usd']})"
    return join(
        _label_counts(labels, labeller),
        element("p", judge_line, class_="small"),
        table(
            [
                "features",
                "n",
                "ranked",
                "contrastive success",
                "chance",
                "mean rank",
                "chance",
                "detected",
                "detection AUROC",
                "vs random neg.",
                "vs hard neg.",
            ],
            rows,
        )
        if rows
        else unavailable("Label evaluation", "the summary holds no results"),
        element(
            "p",
            "Contrastive success: on held-out slices of the feature, the judge ranks its own "
            "label 1st or 2nd among it and labels of other features. Detection: AUROC of the "
            "judge's scores on held-out positives against random and hard (same modality and "
            "region, feature inactive) negatives.",
            class_="small",
        ),
    )
