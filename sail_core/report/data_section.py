"""Facts about the data: the split, quarantined scans, slice counts, example slices."""

from __future__ import annotations

import polars as pl

from sail_core.columns import SPLITS
from sail_core.report.html import Html, element, image, join, table, unavailable
from sail_core.report.sources import Missing


def split_table(summary: pl.DataFrame | Missing) -> Html:
    if isinstance(summary, Missing):
        return unavailable("Split summary", summary.reason)
    return table(summary.columns, [list(row) for row in summary.iter_rows()])


def quarantine_table(quarantine: pl.DataFrame | Missing) -> Html:
    if isinstance(quarantine, Missing):
        return unavailable("Quarantine list", quarantine.reason)
    if quarantine.height == 0:
        return element("p", "No scan was quarantined.")
    return table(quarantine.columns, [list(row) for row in quarantine.iter_rows()])


def slice_counts(index: pl.DataFrame | Missing) -> Html:
    """Stored slices per modality and orientation, by split."""
    if isinstance(index, Missing):
        return unavailable("Slice counts", index.reason)
    counts = index.group_by("modality", "orientation", "split").len()
    rows = []
    for (modality, orientation), group in counts.sort("modality", "orientation").group_by(
        "modality", "orientation", maintain_order=True
    ):
        per_split = dict(zip(group["split"], group["len"], strict=True))
        scans = index.filter(
            (pl.col("modality") == modality) & (pl.col("orientation") == orientation)
        )["image_id"].n_unique()
        rows.append(
            [
                modality,
                orientation,
                scans,
                *(per_split.get(s, 0) for s in SPLITS),
                group["len"].sum(),
            ]
        )
    return table(["modality", "orientation", "scans", *SPLITS, "slices"], rows)


def data_section(
    split_summary: pl.DataFrame | Missing,
    quarantine: pl.DataFrame | Missing,
    index: pl.DataFrame | Missing,
    example_png: bytes | Missing,
) -> Html:
    return join(
        element(
            "div",
            element("div", element("h3", "Split"), split_table(split_summary)),
            element(
                "div",
                element("h3", "Slices per modality and orientation"),
                slice_counts(index),
            ),
            element("div", element("h3", "Quarantined scans"), quarantine_table(quarantine)),
            class_="columns",
        ),
        element("h3", "Example slices"),
        unavailable("Example slices", example_png.reason)
        if isinstance(example_png, Missing)
        else element(
            "figure",
            image(example_png, "example slices per modality and orientation", class_="wide"),
            element(
                "figcaption",
                "One row per orientation: the middle stored slice of scans spread over each "
                "modality (title: modality, scan, slice index).",
            ),
        ),
    )
