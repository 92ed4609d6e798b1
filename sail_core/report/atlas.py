"""The feature atlas: one self-contained HTML page (styles, script and images inline)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sail_core.data.store import ROW_COLUMNS, SliceReader
from sail_core.io import atomic_output
from sail_core.report import metrics_section as metrics
from sail_core.report.assets import SCRIPT, STYLE
from sail_core.report.data_section import data_section
from sail_core.report.detection_section import detection_table
from sail_core.report.features_section import FeatureTables, feature_card_id, feature_list
from sail_core.report.files import DataFiles, SaeFiles
from sail_core.report.html import Html, element, image, join, unavailable
from sail_core.report.labels_section import label_section
from sail_core.report.retrieval_section import RetrievalTables, retrieval_section
from sail_core.report.sources import Missing, load_json, load_png, load_table
from sail_core.report.thumbnails import thumbnails
from sail_core.report.universality_section import (
    card_universality,
    concepts_section,
    stability_summary,
)

logger = logging.getLogger(__name__)

INDEX_COLUMNS = ("row_id", *ROW_COLUMNS, "index", "split")


@dataclass(frozen=True)
class AtlasSettings:
    title: str
    max_features: int
    enrichment_rows: int
    thumbnail_px: int
    report_split: str


def anchor(files: SaeFiles) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{files.encoder}-{files.sae}")


def card_id(files: SaeFiles, feature: int) -> str:
    return feature_card_id(anchor(files), feature)


def _figure(png: bytes | Missing, what: str, caption: str) -> Html:
    if isinstance(png, Missing):
        return unavailable(what, png.reason)
    return element("figure", image(png, what, class_="wide"), element("figcaption", caption))


def _retrieved_images(
    results: pl.DataFrame | Missing,
    index: pl.DataFrame | Missing,
    reader: SliceReader,
    size: int,
) -> dict[int, bytes] | Missing:
    if isinstance(results, Missing) or results.height == 0:
        return {}
    if isinstance(index, Missing):
        return Missing(f"slice index: {index.reason}")
    try:
        return thumbnails(results["row_id"].to_list(), index, reader, size)
    except (OSError, KeyError, ValueError) as error:
        logger.warning("retrieved slices cannot be shown: %s", error)
        return Missing(f"the retrieved slices cannot be read ({error})")


def card_href(files: SaeFiles, feature: int) -> str:
    return f"#{card_id(files, feature)}"


def sae_section(
    files: SaeFiles,
    data: DataFiles,
    index: pl.DataFrame | Missing,
    reader: SliceReader,
    settings: AtlasSettings,
    saes: list[SaeFiles],
) -> Html:
    """Everything about one selected SAE."""
    logger.info("section %s", files.name)
    split = settings.report_split
    sae_metrics = load_json(files.metrics)
    summary = load_json(files.summary)
    ranking = load_table(data.ranking(files.encoder), ("sae",))
    config_metrics = (
        {}
        if isinstance(ranking, Missing)
        else {s: load_json(data.sae_metrics(files.encoder, s)) for s in ranking["sae"]}
    )
    tables = FeatureTables.read(files)
    retrieval = RetrievalTables.read(files)
    images = _retrieved_images(retrieval.results, index, reader, settings.thumbnail_px)
    recovery_n = summary.get("recovery_n") if isinstance(summary, dict) else None
    return element(
        "section",
        element("h2", f"{files.encoder} · {files.sae}"),
        metrics.headline(sae_metrics, summary, split),
        element("h3", f"Config ranking of {files.encoder}"),
        metrics.ranking_table(ranking, config_metrics, split),
        element("h3", "Reconstruction and sparsity"),
        metrics.reconstruction_tables(sae_metrics),
        element("h3", "Training curves"),
        _figure(
            load_png(files.training_curves),
            "training curves",
            "Loss, FVU of every nested level (train and validation) and dead latents.",
        ),
        element("h3", f"Performance recovery at N = {recovery_n or '?'} features"),
        metrics.recovery_table(summary),
        _figure(
            load_png(files.recovery_curves),
            "recovery curves",
            f"Linear probes on N features ({split} split): SAE features with the largest probe "
            "coefficients, PCA components and random SAE features, against the dense probe.",
        ),
        element("h3", "Fingerprint retrieval"),
        metrics.fingerprint_table(summary),
        element("h3", "Structure detection by single features"),
        detection_table(summary),
        element("h3", "Labels"),
        label_section(tables.labels, load_json(files.label_evaluation_summary), files.labeller),
        element("h3", "Language-driven retrieval"),
        retrieval_section(retrieval, images, lambda feature: f"#{card_id(files, feature)}"),
        element("h3", "Seed stability"),
        stability_summary(files),
        element("h3", "Features"),
        feature_list(
            anchor(files),
            tables,
            lambda feature: load_png(files.panel(feature)),
            settings.max_features,
            settings.enrichment_rows,
            card_universality(files, saes, card_href),
        ),
        id=anchor(files),
        class_="block",
    )


def build_atlas(data: DataFiles, saes: list[SaeFiles], settings: AtlasSettings) -> str:
    index = load_table(data.index, INDEX_COLUMNS, only_these=True)
    reader = SliceReader(data.slices_dir)
    labellers = sorted({files.labeller for files in saes})
    subtitle = (
        f"{len(saes)} selected SAE configuration(s): "
        f"{', '.join(files.name for files in saes) or 'none'}"
        + (f" · labels by {', '.join(labellers)}" if labellers else "")
    )
    nav = element(
        "nav",
        element("a", "Data", href="#data"),
        [element("a", files.name, href=f"#{anchor(files)}") for files in saes],
        element("a", "Shared and unique concepts", href="#concepts"),
        class_="toc",
    )
    overview = metrics.overview_table(
        [
            (
                element("a", files.name, href=f"#{anchor(files)}"),
                load_json(files.metrics),
                load_json(files.summary),
            )
            for files in saes
        ],
        settings.report_split,
    )
    body = join(
        element("header", element("h1", settings.title), element("p", subtitle), class_="top"),
        nav,
        element(
            "main",
            element("section", element("h2", "At a glance"), overview, class_="block")
            if saes
            else None,
            element(
                "section",
                element("h2", "Data"),
                data_section(
                    load_table(data.split_summary),
                    load_table(data.quarantine),
                    index,
                    load_png(data.example_slices),
                ),
                id="data",
                class_="block",
            ),
            [sae_section(files, data, index, reader, settings, saes) for files in saes],
            element(
                "section",
                element("h2", "Shared and unique concepts"),
                concepts_section(saes, card_href),
                id="concepts",
                class_="block",
            ),
        ),
        element("script", Html(SCRIPT)),
    )
    head = join(
        element("meta", charset="utf-8"),
        element("meta", name="viewport", content="width=device-width, initial-scale=1"),
        element("title", settings.title),
        element("style", Html(STYLE)),
    )
    page = element("html", element("head", head), element("body", body), lang="en")
    return f"<!DOCTYPE html>\n{page}\n"


def write_atlas(
    path: str | Path, data: DataFiles, saes: list[SaeFiles], settings: AtlasSettings
) -> None:
    page = build_atlas(data, saes, settings)
    with atomic_output(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info("wrote %s (%.1f MB)", path, len(page.encode()) / 1e6)
