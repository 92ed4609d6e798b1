"""Clinical queries and what their retrieved slices must satisfy to count as relevant.

A query states some of: modality, orientation, sex, a minimum age, and anatomy terms (a hit
when the slice contains any structure of any term). Only the dimensions a query states are
scored. Queries from config carry their constraints; a free-text query gets them read from its
words (CT/MRI, axial/coronal/sagittal, female/male, elderly, anatomy names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.label.terms import resolve_term

ELDERLY_AGE = 65.0
DIMENSIONS = ("modality", "orientation", "anatomy", "sex", "age")

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = {"of", "the", "and", "in", "a", "an", "with", "patient", "patients", "scan", "slice"}


@dataclass(frozen=True)
class Query:
    name: str
    text: str
    modality: str | None = None
    orientation: str | None = None
    sex: str | None = None
    min_age: float | None = None
    anatomy: tuple[str, ...] = ()

    def dimensions(self) -> list[str]:
        """The dimensions this query states, in DIMENSIONS order."""
        stated = {
            "modality": self.modality is not None,
            "orientation": self.orientation is not None,
            "anatomy": bool(self.anatomy),
            "sex": self.sex is not None,
            "age": self.min_age is not None,
        }
        return [d for d in DIMENSIONS if stated[d]]

    def structures(self) -> frozenset[str]:
        found = frozenset()
        for term in self.anatomy:
            structures = resolve_term(term)
            if structures is None:
                raise ValueError(f"query {self.name!r}: {term!r} names no known anatomy")
            found |= structures
        return found


def query_from_config(item: dict) -> Query:
    query = Query(
        name=item["name"],
        text=item["text"],
        modality=item.get("modality"),
        orientation=item.get("orientation"),
        sex=item.get("sex"),
        min_age=item.get("min_age"),
        anatomy=tuple(item.get("anatomy", ())),
    )
    query.structures()
    return query


def query_from_text(text: str, name: str = "user_query") -> Query:
    """A query whose constraints are read from the words of `text`."""
    words = _WORD.findall(text.lower())
    modality = "ct" if "ct" in words else "mri" if {"mri", "mr"} & set(words) else None
    orientation = next((w for w in words if w in ("axial", "coronal", "sagittal")), None)
    sex = (
        "f"
        if {"female", "woman", "women"} & set(words)
        else "m"
        if {"male", "man", "men"} & set(words)
        else None
    )
    min_age = ELDERLY_AGE if {"elderly", "older", "old", "aged"} & set(words) else None
    content = [w for w in words if w not in _STOPWORDS]
    anatomy, skip = [], False
    for position, word in enumerate(content):
        if skip:
            skip = False
            continue
        pair = " ".join(content[position : position + 2])
        if position + 1 < len(content) and resolve_term(pair):
            anatomy.append(pair)
            skip = True
        elif resolve_term(word):
            anatomy.append(word)
    return Query(name, text, modality, orientation, sex, min_age, tuple(anatomy))


def relevance(query: Query, rows: pl.DataFrame) -> dict[str, list[bool]]:
    """Per stated dimension, whether each retrieved row (index columns) satisfies the query."""
    result = {}
    if query.modality:
        result["modality"] = (rows["modality"] == query.modality).to_list()
    if query.orientation:
        result["orientation"] = (rows["orientation"] == query.orientation).to_list()
    if query.anatomy:
        columns = [
            f"{STRUCTURE_PREFIX}{s}"
            for s in sorted(query.structures())
            if f"{STRUCTURE_PREFIX}{s}" in rows.columns
        ]
        hits = rows.select(pl.any_horizontal(columns)) if columns else None
        result["anatomy"] = (
            hits.to_series().fill_null(False).to_list()
            if hits is not None
            else [False] * rows.height
        )
    if query.sex:
        result["sex"] = (rows["gender"] == query.sex).fill_null(False).to_list()
    if query.min_age is not None:
        result["age"] = (rows["age"] >= query.min_age).fill_null(False).to_list()
    return result
