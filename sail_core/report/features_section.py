"""The searchable list of features: label, panel of top slices, statistics, enrichment and how
the label fared in the evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from sail_core.report.files import SaeFiles
from sail_core.report.html import Html, element, image, join, number, table, unavailable
from sail_core.report.sources import Missing, load_table

OFFLINE = "offline"


@dataclass(frozen=True)
class FeatureTables:
    """The per-feature tables of one SAE; any of them may be missing."""

    stats: pl.DataFrame | Missing
    labels: pl.DataFrame | Missing
    evaluation: pl.DataFrame | Missing
    enrichment: pl.DataFrame | Missing
    monosemanticity: pl.DataFrame | Missing

    @classmethod
    def read(cls, files: SaeFiles) -> FeatureTables:
        return cls(
            stats=load_table(files.stats, ("feature", "n_fires")),
            labels=load_table(files.labels, ("feature", "label")),
            evaluation=load_table(files.label_evaluation, ("feature",)),
            enrichment=load_table(
                files.enrichment, ("feature", "attribute", "value", "count", "n_top", "lift")
            ),
            monosemanticity=load_table(files.feature_monosemanticity, ("feature",)),
        )


def _by_feature(frame: pl.DataFrame | Missing) -> dict[int, dict]:
    if isinstance(frame, Missing) or "feature" not in frame.columns:
        return {}
    return {row["feature"]: row for row in frame.iter_rows(named=True)}


def feature_card_id(anchor: str, feature: int) -> str:
    return f"{anchor}-feature-{feature}"


def listed_features(tables: FeatureTables, max_features: int) -> list[int]:
    """Labelled features in the labels' order, then the other live features by firing count."""
    labelled = (
        []
        if isinstance(tables.labels, Missing) or "feature" not in tables.labels.columns
        else tables.labels["feature"].to_list()
    )
    others = []
    stats = tables.stats
    if not isinstance(stats, Missing) and {"feature", "n_fires"} <= set(stats.columns):
        alive = stats.filter(pl.col("n_fires") > 0).sort(
            ["n_fires", "feature"], descending=[True, False]
        )
        others = [f for f in alive["feature"].to_list() if f not in set(labelled)]
    return list(dict.fromkeys(labelled + others))[:max_features]


def _monosemanticity_column(frame: pl.DataFrame | Missing) -> str | None:
    if isinstance(frame, Missing):
        return None
    columns = sorted(
        (c for c in frame.columns if c.startswith("monosemanticity_")),
        key=lambda c: int(c.rsplit("_", 1)[1]) if c.rsplit("_", 1)[1].isdigit() else 0,
    )
    return columns[0] if columns else None


def _label_line(label: dict | None) -> list:
    if label is None:
        return [element("span", "not labelled", class_="label unlabelled")]
    usable = label.get("status", "ok") == "ok" and label.get("label")
    parts = [
        element("span", label["label"], class_="label")
        if usable
        else element(
            "span",
            f"no usable label ({label.get('status')}: {label.get('error') or 'no answer'})",
            class_="label unlabelled",
        )
    ]
    stated = [
        str(label[field])
        for field in ("modality", "orientation", "sex", "age_group")
        if label.get(field) not in (None, "any")
    ]
    structures = ", ".join(label.get("key_structures") or [])
    if structures:
        stated.append(f"key structures: {structures}")
    if usable and stated:
        parts.append(element("span", f"({'; '.join(stated)})", class_="small"))
    if label.get("labeller") == OFFLINE:
        parts.append(element("span", "offline label", class_="badge offline"))
    elif label.get("labeller"):
        parts.append(element("span", f"{label['labeller']} label", class_="badge"))
    if label.get("selection"):
        parts.append(element("span", f"{label['selection']} selection", class_="badge muted"))
    return parts


def _evaluation_line(result: dict | None) -> Html | None:
    if result is None:
        return None
    parts = []
    if result.get("contrastive_status") == "ok":
        verdict = "pass" if result.get("success") else "fail"
        parts.append(
            f"contrastive rank {number(result.get('true_rank'))} of "
            f"{number(result.get('n_candidates'))} ({verdict})"
        )
    else:
        parts.append(f"contrastive test: {result.get('contrastive_status') or 'not run'}")
    if result.get("detection_status") == "ok":
        parts.append(
            f"detection AUROC {number(result.get('auroc'))} "
            f"(random negatives {number(result.get('auroc_random'))}, "
            f"hard negatives {number(result.get('auroc_hard'))})"
        )
    else:
        parts.append(f"detection: {result.get('detection_status') or 'not run'}")
    return element("p", "Label evaluation: ", " · ".join(parts), class_="small")


def _facts(stats: dict | None, mono: dict | None, mono_column: str | None) -> Html:
    stats = stats or {}
    rows = [
        ["frequency", stats.get("frequency")],
        ["fires / scans", f"{number(stats.get('n_fires'))} / {number(stats.get('n_scans'))}"],
        ["mean when active", stats.get("mean_when_active")],
        ["max activation", stats.get("max_activation")],
    ]
    if mono and mono_column:
        n = mono_column.rsplit("_", 1)[1]
        rows += [
            [f"M({n})", mono.get(mono_column)],
            [
                f"coherence / specificity ({n})",
                f"{number(mono.get(f'coherence_{n}'))} / {number(mono.get(f'specificity_{n}'))}",
            ],
        ]
    return table(["statistic", "value"], rows, classes="kv")


def _enrichment(rows: pl.DataFrame | None, limit: int) -> Html:
    if rows is None or rows.height == 0:
        return element(
            "p", "No over-represented metadata value among the top slices.", class_="small"
        )
    top = rows.head(limit)
    return table(
        ["enriched", "value", "top slices", "lift"],
        [
            [r["attribute"], r["value"], f"{r['count']} of {r['n_top']}", r["lift"]]
            for r in top.iter_rows(named=True)
        ],
        classes="kv",
    )


def _search_text(feature: int, label: dict | None, enriched: pl.DataFrame | None) -> str:
    words = [f"#{feature}", f"feature {feature}"]
    if label:
        words += [label.get("label") or "", *(label.get("key_structures") or [])]
    if enriched is not None:
        words += enriched["value"].to_list()
    return " ".join(words).lower()


def feature_list(
    anchor: str,
    tables: FeatureTables,
    panel: Callable[[int], bytes | Missing],
    max_features: int,
    enrichment_rows: int,
    universality: Callable[[int], Html] | None = None,
) -> Html:
    """A search box and one card per listed feature; `panel(feature)` gives its PNG and
    `universality(feature)` its stability and cross-encoder twins."""
    features = listed_features(tables, max_features)
    if not features:
        reasons = [t.reason for t in (tables.stats, tables.labels) if isinstance(t, Missing)]
        return unavailable("Feature list", "; ".join(reasons) or "no feature fires")
    labels = _by_feature(tables.labels)
    evaluation = _by_feature(tables.evaluation)
    stats = _by_feature(tables.stats)
    mono = _by_feature(tables.monosemanticity)
    mono_column = _monosemanticity_column(tables.monosemanticity)
    enrichment = (
        {}
        if isinstance(tables.enrichment, Missing)
        else {f: rows for (f,), rows in tables.enrichment.group_by("feature")}
    )
    n_alive = (
        None
        if isinstance(tables.stats, Missing) or "n_fires" not in tables.stats.columns
        else int((tables.stats["n_fires"] > 0).sum())
    )
    cards = []
    for feature in features:
        png = panel(feature)
        cards.append(
            element(
                "article",
                element(
                    "header",
                    element("span", f"#{feature}", class_="fid"),
                    _label_line(labels.get(feature)),
                ),
                element(
                    "div",
                    unavailable("Panel", png.reason)
                    if isinstance(png, Missing)
                    else image(png, f"top slices of feature {feature}", class_="panel"),
                    element(
                        "div",
                        _facts(stats.get(feature), mono.get(feature), mono_column),
                        _enrichment(enrichment.get(feature), enrichment_rows),
                        class_="facts",
                    ),
                    class_="feature-body",
                ),
                _evaluation_line(evaluation.get(feature)),
                universality(feature) if universality else None,
                class_="feature",
                id=feature_card_id(anchor, feature),
                data_feature=feature,
                data_search=_search_text(feature, labels.get(feature), enrichment.get(feature)),
            )
        )
    listed = f"{len(features)} features listed"
    if n_alive is not None:
        listed += f" of {n_alive} that fire"
    gaps = [
        unavailable(what, table.reason)
        for what, table in (
            ("Label evaluation per feature", tables.evaluation),
            ("Enrichment", tables.enrichment),
            ("Monosemanticity per feature", tables.monosemanticity),
        )
        if isinstance(table, Missing)
    ]
    return join(
        element(
            "p",
            f"{listed}: labelled features first, then the others by how often they fire.",
            class_="small",
        ),
        gaps,
        element(
            "div",
            element(
                "input",
                type="search",
                class_="feature-search",
                placeholder="Filter by label, structure or #feature number",
                aria_label="filter features",
                data_list=f"{anchor}-features",
                data_count=f"{anchor}-count",
            ),
            element("span", f"{len(features)} shown", id=f"{anchor}-count", class_="count"),
            class_="searchbar",
        ),
        element("div", cards, id=f"{anchor}-features", class_="features"),
    )
