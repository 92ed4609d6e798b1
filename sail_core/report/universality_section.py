"""Which features are real, in the atlas: stability and cross-encoder twins on every feature
card, the stability summary of every selected SAE, and a page of shared and unique concepts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from sail_core.layout import ALIGNMENT_FILES
from sail_core.report.files import SaeFiles
from sail_core.report.html import Html, element, image, join, number, table, unavailable
from sail_core.report.sources import Missing, load_json, load_png, load_table

SHARED_ROWS = 25
UNIQUE_ROWS = 15


def aligned_pairs(saes: list[SaeFiles]) -> list[tuple[SaeFiles, SaeFiles]]:
    """Every pair of selected SAEs of two different encoders, in name order."""
    ordered = sorted(saes, key=lambda files: (files.encoder, files.sae))
    return [
        (a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if a.encoder != b.encoder
    ]


def universality_inputs(
    root: Path, selected: list[tuple[str, str]], labeller: str, with_stability: bool
) -> dict[str, list[str]]:
    """Report inputs: the stability outputs (when extra seeds are configured) and the alignment
    outputs of every pair of the `selected` (encoder, sae)."""
    saes = [SaeFiles(root, encoder, sae, labeller) for encoder, sae in selected]
    stability = [
        s.stability(name)
        for s in saes
        for name in ("features.parquet", "summary.json")
        if with_stability
    ]
    alignment = [a.alignment(b, name) for a, b in aligned_pairs(saes) for name in ALIGNMENT_FILES]
    return {
        "stability": [str(p) for p in stability],
        "alignment": [str(p) for p in alignment],
    }


def stability_summary(sae: SaeFiles) -> Html:
    path = sae.stability("summary.json")
    if not path.exists():
        # the report asks for stability outputs only when extra seeds are configured
        return element(
            "p", "Not computed: no extra training seeds (sae.stability_seeds).", class_="small"
        )
    summary = load_json(path)
    if isinstance(summary, Missing):
        return unavailable("Seed stability", summary.reason)
    rows = [
        [r["features"], r["level"], r["n_features"], number(r["fraction_stable"]),
         number(r["mean_stability"])]
        for r in summary["table"]
    ]  # fmt: skip
    return join(
        element(
            "p",
            f"Main run (seed {summary['main_seed']}) against seed(s) "
            f"{', '.join(map(str, summary['seeds']))} on {summary['n_rows']} "
            f"{'+'.join(summary['splits'])} slices. A feature is stable when its one-to-one twin "
            f"in every seed run has decoder cosine ≥ {summary['min_cosine']} and activation "
            f"correlation ≥ {summary['min_correlation']}; its score is the mean over seed runs "
            "of min(cosine, correlation).",
            class_="small",
        ),
        table(["features", "level", "n", "fraction stable", "mean score"], rows),
    )


def card_universality(
    sae: SaeFiles,
    saes: list[SaeFiles],
    card_href: Callable[[SaeFiles, int], str],
) -> Callable[[int], Html]:
    """feature -> a line with its stability score and its twin in every other encoder."""
    stability = load_table(sae.stability("features.parquet"), ("feature", "stability"))
    scores = (
        {}
        if isinstance(stability, Missing)
        else dict(zip(stability["feature"], stability["stability"], strict=True))
    )
    twins = []
    for a, b in aligned_pairs(saes):
        if sae not in (a, b):
            continue
        side, other = ("a", b) if sae == a else ("b", a)
        table_ = load_table(a.alignment(b, "features.parquet"), ("side", "twin"))
        labels = load_table(other.labels, ("feature", "label"))
        twins.append(
            (
                other,
                {}
                if isinstance(table_, Missing)
                else {
                    r["feature"]: (r["twin"], r["correlation"])
                    for r in table_.filter(pl.col("side") == side).iter_rows(named=True)
                },
                {}
                if isinstance(labels, Missing)
                else dict(zip(labels["feature"], labels["label"], strict=True)),
            )
        )

    def line(feature: int) -> Html:
        parts = []
        if feature in scores:
            parts.append(f"seed stability {number(scores[feature])}")
        for other, pairs, labels in twins:
            twin, correlation = pairs.get(feature, (-1, None))
            if twin < 0:
                parts.append(f"no twin in {other.encoder}")
                continue
            label = labels.get(twin)
            parts.append(
                element(
                    "a",
                    f"twin in {other.encoder}: #{twin}"
                    + (f" “{label}”" if label else "")
                    + f" (r = {number(correlation)})",
                    href=card_href(other, twin),
                )
            )
        if not parts:
            return Html("")
        return element(
            "p", join(*[join(p, " · ") for p in parts[:-1]], parts[-1]), class_="small universality"
        )

    return line


def _panel(sae: SaeFiles, feature: int) -> Html:
    png = load_png(sae.panel(feature))
    if isinstance(png, Missing):
        return Html("")
    return image(png, f"top slices of {sae.encoder} feature {feature}", class_="panel")


def concepts_section(saes: list[SaeFiles], card_href: Callable[[SaeFiles, int], str]) -> Html:
    """Shared and unique concepts of every aligned pair, side by side, with example slices."""
    pairs = aligned_pairs(saes)
    if not pairs:
        return element("p", "Needs selected SAEs of at least two encoders.", class_="small")
    blocks = []
    for a, b in pairs:
        summary = load_json(a.alignment(b, "summary.json"))
        shared = load_table(a.alignment(b, "shared.parquet"), ("feature_a", "feature_b"))
        unique = load_table(a.alignment(b, "unique.parquet"), ("encoder", "feature"))
        heading = element("h3", f"{a.name} ↔ {b.name}")
        if (
            isinstance(summary, Missing)
            or isinstance(shared, Missing)
            or isinstance(unique, Missing)
        ):
            reason = next(t.reason for t in (summary, shared, unique) if isinstance(t, Missing))
            blocks.append(join(heading, unavailable("Alignment", reason)))
            continue
        both = shared.filter(pl.col("label_a").is_not_null() & pl.col("label_b").is_not_null())
        shown = pl.concat([both, shared.join(both, on="feature_a", how="anti")]).head(SHARED_ROWS)
        shared_rows = [
            [
                element(
                    "a",
                    f"#{r['feature_a']} {r['label_a'] or ''}",
                    href=card_href(a, r["feature_a"]),
                ),
                _panel(a, r["feature_a"]),
                number(r["correlation"]),
                _panel(b, r["feature_b"]),
                element(
                    "a",
                    f"#{r['feature_b']} {r['label_b'] or ''}",
                    href=card_href(b, r["feature_b"]),
                ),
            ]
            for r in shown.iter_rows(named=True)
        ]
        columns = []
        for sae in (a, b):
            own = unique.filter(pl.col("encoder") == sae.encoder)
            own = own.sort(pl.col("label").is_null(), "feature").head(UNIQUE_ROWS)
            columns.append(
                element(
                    "div",
                    element(
                        "h4",
                        f"Only in {sae.encoder} ({summary['unique_a' if sae == a else 'unique_b']})",
                    ),
                    table(
                        ["feature", "top structures", "slices"],
                        [
                            [
                                element(
                                    "a",
                                    f"#{r['feature']} {r['label'] or ''}",
                                    href=card_href(sae, r["feature"]),
                                ),
                                ", ".join(r["top_structures"] or []),
                                _panel(sae, r["feature"]),
                            ]
                            for r in own.iter_rows(named=True)
                        ],
                    ),
                )
            )
        blocks.append(
            join(
                heading,
                element(
                    "p",
                    f"{summary['shared']} shared concepts (one-to-one twins with activation "
                    f"correlation above {number(summary['threshold'])}, the "
                    f"{summary['null_quantile']} quantile of best correlations with "
                    f"{a.encoder}'s and {b.encoder}'s scans shuffled against each other, "
                    f"{summary['null_permutations']} shuffles) on {summary['n_rows']} slices of "
                    f"{summary['n_scans']} scans; {summary['unique_a']} of {summary['active_a']} "
                    f"active {a.encoder} features and {summary['unique_b']} of "
                    f"{summary['active_b']} active {b.encoder} features have no twin.",
                    class_="small",
                ),
                element("h4", "Shared concepts (labelled on both sides first)"),
                table([a.encoder, "slices", "r", "slices", b.encoder], shared_rows),
                element("div", columns, class_="side-by-side"),
            )
        )
    return join(*blocks)
