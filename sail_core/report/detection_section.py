"""Structure detection of one SAE: per stratum, how many common structures a single feature
chosen on one split detects on another, and each structure's held-out AUROC as a chart."""

from __future__ import annotations

import math

from sail_core.report.figures import detection_chart, png_bytes
from sail_core.report.html import Html, element, image, join, number, table, unavailable
from sail_core.report.sources import Missing


def _detection_strata(detection: dict) -> dict[str, list[tuple[str, float]]]:
    """Stratum -> (structure, held-out AUROC) of the scored structures, pooled rows first."""
    rows = [{"stratum": "all rows", **s} for s in detection.get("structures") or []]
    rows += detection.get("strata_structures") or []
    strata: dict[str, list[tuple[str, float]]] = {}
    for row in rows:
        auroc = row.get("heldout_auroc")
        if isinstance(auroc, int | float) and math.isfinite(auroc):
            strata.setdefault(row["stratum"], []).append((row["structure"], float(auroc)))
    return strata


def detection_table(summary: dict | Missing) -> Html:
    """Counts of detected common structures per stratum, and the held-out AUROC of every
    structure as a sorted chart per stratum."""
    if isinstance(summary, Missing):
        return unavailable("Structure detection", summary.reason)
    detection = summary.get("structure_detection") or {}
    strata = _detection_strata(detection)
    if not strata:
        return unavailable("Structure detection", "no structure scored on held-out rows")
    selected_on = detection.get("selected_on", "?")
    scored_on = detection.get("scored_on", "?")
    counts = [
        [
            "all rows",
            detection.get("n_common"),
            detection.get("n_detected"),
            detection.get("n_detected_insample"),
        ]
    ]
    counts += [
        [s.get("stratum"), s.get("n_common"), s.get("n_detected"), s.get("n_detected_insample")]
        for s in detection.get("by_stratum") or []
    ]
    threshold = detection.get("threshold")
    chart = detection_chart(
        strata,
        float(threshold) if isinstance(threshold, int | float) else 0.9,
        selected_on,
        scored_on,
    )
    return join(
        table(
            [
                "modality and plane",
                "common structures",
                f"detected on {scored_on} (feature chosen on {selected_on})",
                f"in-sample maximum on {selected_on} (optimistic)",
            ],
            counts,
        ),
        element(
            "figure",
            image(png_bytes(chart), "structure detection per stratum"),
            element(
                "figcaption",
                f"Held-out AUROC of each structure's best single feature (chosen on "
                f"{selected_on}, scored on {scored_on}); chance 0.5, dashed line: detection "
                f"threshold {number(threshold)}.",
            ),
        ),
    )
