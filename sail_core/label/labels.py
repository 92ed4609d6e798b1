"""Feature labels: the record every labeller returns and the table they are stored in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from sail_core.label.evidence import FeatureEvidence

OK = "ok"
PARSE_FAILED = "parse_failed"

_BOILERPLATE = re.compile(
    r"^(?:(?:these|the|all)\s+(?:images|slices|samples)\s+(?:show|depict|display)\s*:?\s*"
    r"|(?:consistently|predominantly)\s*,?\s+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Label:
    feature: int
    label: str
    key_structures: tuple[str, ...]
    modality: str
    orientation: str
    sex: str
    age_group: str
    status: str = OK
    error: str | None = None
    cache_keys: tuple[str, ...] = field(default=())


class Labeller(Protocol):
    name: str
    needs_images: bool

    def label(self, evidence: list[FeatureEvidence]) -> tuple[list[Label], dict]:
        """Labels in the order of `evidence`, and a usage/cost summary."""
        ...


def tidy_label(text: str) -> str:
    """Strip quotes and boilerplate openings ("These images show ..."); capitalise."""
    text = text.strip().strip("\"'“”‘’").strip()
    while (tidier := _BOILERPLATE.sub("", text, count=1)) != text:
        text = tidier
    return text[:1].upper() + text[1:]


def labels_frame(
    labels: list[Label], evidence: list[FeatureEvidence], selection: pl.DataFrame, labeller: str
) -> pl.DataFrame:
    """One row per labelled feature, joined with how it was selected."""
    by_feature = {e.feature: e for e in evidence}
    rows = []
    for label in labels:
        samples = by_feature[label.feature].samples
        activations = [s.activation for s in samples]
        rows.append(
            {
                "feature": label.feature,
                "label": label.label,
                "key_structures": list(label.key_structures),
                "modality": label.modality,
                "orientation": label.orientation,
                "sex": label.sex,
                "age_group": label.age_group,
                "status": label.status,
                "error": label.error,
                "attempts": len(label.cache_keys),
                "cache_keys": list(label.cache_keys),
                "n_samples": len(samples),
                "top_activation": max(activations),
                "mean_sample_activation": sum(activations) / len(activations),
                "labeller": labeller,
            }
        )
    schema = {
        "feature": pl.Int64,
        "label": pl.Utf8,
        "key_structures": pl.List(pl.Utf8),
        "modality": pl.Utf8,
        "orientation": pl.Utf8,
        "sex": pl.Utf8,
        "age_group": pl.Utf8,
        "status": pl.Utf8,
        "error": pl.Utf8,
        "attempts": pl.Int64,
        "cache_keys": pl.List(pl.Utf8),
        "n_samples": pl.Int64,
        "top_activation": pl.Float64,
        "mean_sample_activation": pl.Float64,
        "labeller": pl.Utf8,
    }
    table = pl.DataFrame(rows, schema=schema)
    return selection.select("feature", "selection", "selection_basis", "selection_score").join(
        table, on="feature", how="inner", maintain_order="left"
    )
