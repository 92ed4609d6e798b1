"""Language-driven retrieval: queries -> matched features -> ranked slices -> precision@k.

Beside every precision@k stands its base rate, the share of the searched split's slices that meet
the constraint (the precision of a random list), and the lift, precision / base rate; per stated
constraint and jointly ("all": every stated constraint met).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from sail_core.columns import SLICE_KEY
from sail_core.label.activations import feature_activations
from sail_core.label.labels import OK
from sail_core.label.run import make_runner, request_settings, usage_tally
from sail_core.metrics import lift, precision_at_k
from sail_core.retrieval.match import (
    AnthropicMatcher,
    Candidate,
    EmbeddingMatcher,
    Match,
    load_text_encoder,
)
from sail_core.retrieval.queries import Query, relevance
from sail_core.retrieval.rank import score_slices, top_slices_per_scan
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

RESULT_COLUMNS = ("row_id", *SLICE_KEY, "gender", "age")


class Matcher(Protocol):
    name: str

    def match(self, query: str, candidates: list[Candidate]) -> list[Match]: ...


@dataclass(frozen=True)
class RetrievalSettings:
    split: str
    k: int
    scorings: tuple[str, ...]
    chunk_rows: int


def candidates_from(labels: pl.DataFrame, evaluation: pl.DataFrame | None) -> list[Candidate]:
    """Labelled features to match against; with `evaluation`, only those that passed the
    contrastive test (true label ranked 1st or 2nd), as in the study."""
    usable = labels.filter(pl.col("status") == OK)
    if evaluation is not None:
        passed = evaluation.filter(pl.col("success").fill_null(False))["feature"]
        usable = usable.filter(pl.col("feature").is_in(passed.implode()))
    return [
        Candidate(int(f), text, tuple(structures))
        for f, text, structures in usable.select("feature", "label", "key_structures").iter_rows()
    ]


def eligible_for(query: Query, candidates: list[Candidate]) -> list[Candidate]:
    """A feature whose label names no anatomy cannot answer a query that names some (the
    study's rule: an anatomical match beats a modality- or demographic-only one)."""
    if not query.anatomy:
        return candidates
    return [c for c in candidates if c.key_structures]


class SplitActivations:
    """Activations of the candidate features on the rows of one split, read once and kept
    sparse; dense columns are built only for the features a query matched."""

    def __init__(
        self,
        store: CodeStore,
        index: pl.DataFrame,
        features: list[int],
        split: str,
        chunk_rows: int,
    ) -> None:
        mask = (index["split"] == split).to_numpy()
        self.rows = index.filter(pl.Series(mask))
        self.position = np.full(index.height, -1, dtype=np.int64)
        self.position[mask] = np.arange(int(mask.sum()))
        self.found = feature_activations(store, features, mask, chunk_rows)

    def matrix(self, features: list[int]) -> np.ndarray:
        """(rows of the split) x (features) activations."""
        dense = np.zeros((self.rows.height, len(features)))
        for column, feature in enumerate(features):
            found = self.found[feature]
            dense[self.position[found.rows], column] = found.values
        return dense


def retrieve(
    query: Query,
    matches: list[Match],
    labels: pl.DataFrame,
    activations: SplitActivations,
    settings: RetrievalSettings,
) -> pl.DataFrame:
    """Top-k slices per scoring, with the relevance of each per stated dimension."""
    frames = []
    if matches:
        features = [m.feature for m in matches]
        activation_of = labels.filter(pl.col("feature").is_in(features)).select(
            "feature", "mean_sample_activation", "top_activation"
        )
        by_feature = {row[0]: row[1:] for row in activation_of.iter_rows()}
        fingerprint = np.array([by_feature[f][0] for f in features])
        top = np.array([by_feature[f][1] for f in features])
        values = activations.matrix(features)
        for scoring in settings.scorings:
            ranked = top_slices_per_scan(
                activations.rows, score_slices(values, fingerprint, top, scoring), settings.k
            )
            hits = relevance(query, ranked)
            frames.append(
                ranked.select("rank", "score", *RESULT_COLUMNS).with_columns(
                    pl.lit(query.name).alias("query"),
                    pl.lit(scoring).alias("scoring"),
                    *(pl.Series(f"relevant_{d}", v, dtype=pl.Boolean) for d, v in hits.items()),
                )
            )
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")


JOINT = "all"


def base_rates(query: Query, rows: pl.DataFrame) -> dict[str, float]:
    """Share of `rows` (the searched split) meeting each stated constraint, and all of them."""
    hits = {d: np.asarray(v, dtype=bool) for d, v in relevance(query, rows).items()}
    if not hits or rows.height == 0:
        return {}
    rates = {d: float(v.mean()) for d, v in hits.items()}
    rates[JOINT] = float(np.logical_and.reduce(list(hits.values())).mean())
    return rates


def precision_rows(
    query: Query, results: pl.DataFrame, settings: RetrievalSettings, base: dict[str, float]
) -> list[dict]:
    """precision@k, base rate and lift per scoring and stated dimension, and jointly (a short or
    empty list counts as misses)."""
    rows = []
    dimensions = query.dimensions()
    for scoring in settings.scorings:
        part = results.filter(pl.col("scoring") == scoring) if results.height else results
        hits = {}
        for dimension in dimensions:
            column = f"relevant_{dimension}"
            hits[dimension] = part[column].to_list() if column in part.columns else []
        if dimensions:
            hits[JOINT] = [all(values) for values in zip(*hits.values(), strict=True)]
        for dimension, relevant in hits.items():
            precision = precision_at_k(relevant, settings.k)
            rate = base.get(dimension, np.nan)
            rows.append(
                {
                    "query": query.name,
                    "scoring": scoring,
                    "dimension": dimension,
                    "k": settings.k,
                    "precision_at_k": precision,
                    "base_rate": rate,
                    "lift": lift(precision, rate),
                }
            )
    return rows


@dataclass(frozen=True)
class RetrievalOutput:
    matches: pl.DataFrame
    results: pl.DataFrame
    precision: pl.DataFrame
    summary: dict


MATCH_SCHEMA = {
    "query": pl.Utf8,
    "text": pl.Utf8,
    "order": pl.Int64,
    "feature": pl.Int64,
    "label": pl.Utf8,
    "similarity": pl.Float64,
}
PRECISION_SCHEMA = {
    "query": pl.Utf8,
    "scoring": pl.Utf8,
    "dimension": pl.Utf8,
    "k": pl.Int64,
    "precision_at_k": pl.Float64,
    "base_rate": pl.Float64,
    "lift": pl.Float64,
}


def run_queries(
    queries: list[Query],
    matcher: Matcher,
    candidates: list[Candidate],
    labels: pl.DataFrame,
    index: pl.DataFrame,
    store: CodeStore,
    settings: RetrievalSettings,
) -> RetrievalOutput:
    activations = SplitActivations(
        store, index, [c.feature for c in candidates], settings.split, settings.chunk_rows
    )
    match_rows, result_frames, precision = [], [], []
    for query in queries:
        matches = matcher.match(query.text, eligible_for(query, candidates))
        logger.info("%s: %s", query.name, "; ".join(m.label for m in matches) or "no match")
        match_rows += [
            {
                "query": query.name,
                "text": query.text,
                "order": order,
                "feature": m.feature,
                "label": m.label,
                "similarity": m.similarity,
            }
            for order, m in enumerate(matches, 1)
        ]
        results = retrieve(query, matches, labels, activations, settings)
        result_frames.append(results)
        precision += precision_rows(query, results, settings, base_rates(query, activations.rows))
    precision_frame = pl.DataFrame(precision, schema=PRECISION_SCHEMA)
    mean = (
        precision_frame.group_by("scoring", "dimension")
        .agg(
            pl.col("precision_at_k").mean(),
            pl.col("base_rate").fill_nan(None).mean(),
            pl.len().alias("n_queries"),
        )
        .with_columns(
            lift=pl.col("precision_at_k")
            / pl.when(pl.col("base_rate") > 0).then(pl.col("base_rate"))
        )
        .sort("scoring", "dimension")
    )
    matched = {row["query"] for row in match_rows}
    summary = {
        "matcher": matcher.name,
        "split": settings.split,
        "k": settings.k,
        "n_candidate_features": len(candidates),
        "n_queries": len(queries),
        "queries_without_match": [q.name for q in queries if q.name not in matched],
        "mean_precision_at_k": {
            scoring: {
                row["dimension"]: {
                    "precision": row["precision_at_k"],
                    "base_rate": row["base_rate"],
                    "lift": row["lift"],
                    "n_queries": row["n_queries"],
                }
                for row in mean.filter(pl.col("scoring") == scoring).iter_rows(named=True)
            }
            for scoring in settings.scorings
        },
    }
    nonempty = [f for f in result_frames if f.height]
    return RetrievalOutput(
        matches=pl.DataFrame(match_rows, schema=MATCH_SCHEMA),
        results=pl.concat(nonempty, how="diagonal_relaxed") if nonempty else pl.DataFrame(),
        precision=precision_frame,
        summary=summary,
    )


def make_matcher(name: str, retrieval: dict, anthropic: dict | None, cache_dir: str) -> Matcher:
    if name == "offline":
        return EmbeddingMatcher(
            load_text_encoder(),
            retrieval["max_features"],
            retrieval["min_similarity"],
            retrieval["margin"],
            retrieval["distinct_below"],
        )
    if name == "anthropic" and anthropic is not None:
        return AnthropicMatcher(
            make_runner(anthropic, cache_dir),
            request_settings(anthropic),
            anthropic["prompt_version"],
            retrieval["max_features"],
            anthropic["max_attempts"],
            usage_tally(anthropic),
        )
    raise ValueError(f"unknown matcher {name!r}; choose offline or anthropic")
