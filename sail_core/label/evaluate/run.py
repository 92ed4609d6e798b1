"""Evaluate a label table on held-out slices with one judge: contrastive test and detection."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from sail_core.label.activations import Activations, feature_activations, top_per_scan
from sail_core.label.asking import Outcome
from sail_core.label.evaluate.contrastive import (
    SUCCESS_RANK,
    Draw,
    draw_candidates,
    summarise_ranks,
    true_rank,
)
from sail_core.label.evaluate.detection import (
    HARD_NEGATIVE,
    POSITIVE,
    RANDOM_NEGATIVE,
    detection_scores,
    summarise_detection,
)
from sail_core.label.evaluate.heldout import hard_negative_target, sample_negatives
from sail_core.label.evaluate.judges import DetectTask, Judge, RankTask
from sail_core.label.evidence import SliceImageReader, build_evidence, sample_meta
from sail_core.label.labels import OK, PARSE_FAILED
from sail_core.mine.rows import scan_codes
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

LABEL_FIELDS = ("label", "key_structures", "modality", "orientation", "sex", "age_group")


@dataclass(frozen=True)
class EvaluationSettings:
    split: str
    n_distractors: int
    n_heldout_samples: int
    n_positives: int
    n_random_negatives: int
    n_hard_negatives: int
    threshold: float
    seed: int
    chunk_rows: int
    image_size: int | None


@dataclass(frozen=True)
class HeldOut:
    """Held-out rows, their scans, and per judged feature its activations there."""

    rows: np.ndarray
    scans: np.ndarray
    active: dict[int, Activations]
    top: dict[int, Activations]


def _picks(shown: dict[int, Activations]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "feature": [f for f, a in shown.items() for _ in a.rows],
            "row_id": [int(r) for a in shown.values() for r in a.rows],
            "activation": [float(v) for a in shown.values() for v in a.values],
        },
        schema={"feature": pl.Int64, "row_id": pl.Int64, "activation": pl.Float64},
    )


def _head(activations: Activations, n: int) -> Activations:
    return Activations(activations.rows[:n], activations.values[:n])


def held_out(
    index: pl.DataFrame, store: CodeStore, features: list[int], settings: EvaluationSettings
) -> HeldOut:
    mask = (index["split"] == settings.split).to_numpy()
    scans, _ = scan_codes(index)
    active = feature_activations(store, features, mask, settings.chunk_rows)
    n_top = max(settings.n_heldout_samples, settings.n_positives)
    top = {f: top_per_scan(active[f], scans, n_top) for f in features}
    fired = [f for f in features if top[f].rows.size]
    logger.info(
        "%d of %d labelled features fire on %s slices", len(fired), len(features), settings.split
    )
    return HeldOut(
        np.flatnonzero(mask), scans, {f: active[f] for f in fired}, {f: top[f] for f in fired}
    )


def _detection_items(
    feature: int, heldout: HeldOut, index: pl.DataFrame, settings: EvaluationSettings
) -> tuple[Activations, list[str]]:
    """The slices to judge (positives, random and hard negatives) in a seeded shuffled order."""
    rng = np.random.default_rng([settings.seed, feature, 1])
    positives = _head(heldout.top[feature], settings.n_positives)
    samples = [sample_meta(index.row(int(r), named=True), 0.0) for r in positives.rows]
    negatives = sample_negatives(
        heldout.active[feature].rows,
        heldout.rows,
        index,
        heldout.scans,
        hard_negative_target(samples),
        (settings.n_random_negatives, settings.n_hard_negatives),
        rng,
    )
    rows = np.concatenate([positives.rows, negatives.random, negatives.hard])
    values = np.concatenate([positives.values, np.zeros(rows.size - positives.rows.size)])
    kinds = (
        [POSITIVE] * positives.rows.size
        + [RANDOM_NEGATIVE] * negatives.random.size
        + [HARD_NEGATIVE] * negatives.hard.size
    )
    order = rng.permutation(rows.size)
    return Activations(rows[order], values[order]), [kinds[i] for i in order]


def _evidence(shown: dict[int, Activations], index, reader, settings) -> dict:
    return {e.feature: e for e in build_evidence(_picks(shown), index, reader, settings.image_size)}


def contrastive_test(
    fields: dict[int, dict], heldout: HeldOut, index, judge: Judge, reader, settings
) -> dict[int, tuple[Draw, Outcome]]:
    shown = {f: _head(top, settings.n_heldout_samples) for f, top in heldout.top.items()}
    evidence = _evidence(shown, index, reader, settings)
    texts = {f: field["label"] for f, field in fields.items()}
    draws = {f: draw_candidates(f, texts, settings.n_distractors, settings.seed) for f in shown}
    tasks = {}
    for f, draw in draws.items():
        candidates = [fields[f]] + [fields[d] for d in draw.distractors]
        tasks[f] = RankTask([candidates[i] for i in draw.order], evidence[f])
    rankings = judge.rank(tasks)
    return {f: (draws[f], rankings[f]) for f in draws}


def detection_test(
    fields: dict[int, dict], heldout: HeldOut, index, judge: Judge, reader, settings
) -> dict[int, tuple[list[str], Outcome]]:
    items = {f: _detection_items(f, heldout, index, settings) for f in heldout.top}
    evidence = _evidence({f: shown for f, (shown, _) in items.items()}, index, reader, settings)
    detections = judge.detect({f: DetectTask(fields[f], evidence[f]) for f in items})
    return {f: (kinds, detections[f]) for f, (_, kinds) in items.items()}


def _result(
    contrastive: tuple[Draw, Outcome], detection: tuple[list[str], Outcome], threshold: float
) -> dict:
    (draw, ranking), (kinds, scores) = contrastive, detection
    result = {
        "n_candidates": len(draw.order),
        "distractor_features": draw.distractors,
        "contrastive_attempts": ranking.attempts,
        "detection_attempts": scores.attempts,
        "n_positives": kinds.count(POSITIVE),
        "n_random_negatives": kinds.count(RANDOM_NEGATIVE),
        "n_hard_negatives": kinds.count(HARD_NEGATIVE),
    }
    if ranking.value is None:
        result |= {"contrastive_status": PARSE_FAILED, "contrastive_error": ranking.error}
    else:
        rank = true_rank(ranking.value, draw.order)
        result |= {"contrastive_status": OK, "true_rank": rank, "success": rank <= SUCCESS_RANK}
    if scores.value is None:
        result |= {"detection_status": PARSE_FAILED, "detection_error": scores.error}
    else:
        result |= {"detection_status": OK} | detection_scores(kinds, scores.value, threshold)
    return result


def evaluate_labels(
    labels: pl.DataFrame,
    index: pl.DataFrame,
    store: CodeStore,
    judge: Judge,
    read_slices: SliceImageReader | None,
    settings: EvaluationSettings,
) -> tuple[pl.DataFrame, dict]:
    """Per-feature results and a summary (overall and per selection group).

    Features without a usable label are "no_label"; those that never fire on the held-out
    split are "no_heldout"; neither counts in the metrics.
    """
    usable = labels.filter(pl.col("status") == OK)
    fields = {
        row["feature"]: {k: row[k] for k in LABEL_FIELDS} for row in usable.iter_rows(named=True)
    }
    heldout = held_out(index, store, list(fields), settings)
    reader = read_slices if judge.needs_images else None
    contrastive = contrastive_test(fields, heldout, index, judge, reader, settings)
    detection = detection_test(fields, heldout, index, judge, reader, settings)
    rows = []
    for f, selection, label in labels.select("feature", "selection", "label").iter_rows():
        row = {"feature": f, "selection": selection, "label": label}
        if f in contrastive:
            row |= _result(contrastive[f], detection[f], settings.threshold)
        else:
            status = "no_heldout" if f in fields else "no_label"
            row |= {"contrastive_status": status, "detection_status": status}
        rows.append(row)
    table = pl.DataFrame(rows, schema=RESULT_SCHEMA)
    return table, summarise(table)


RESULT_SCHEMA = {
    "feature": pl.Int64,
    "selection": pl.Utf8,
    "label": pl.Utf8,
    "contrastive_status": pl.Utf8,
    "n_candidates": pl.Int64,
    "distractor_features": pl.List(pl.Int64),
    "true_rank": pl.Int64,
    "success": pl.Boolean,
    "contrastive_attempts": pl.Int64,
    "contrastive_error": pl.Utf8,
    "detection_status": pl.Utf8,
    "n_positives": pl.Int64,
    "n_random_negatives": pl.Int64,
    "n_hard_negatives": pl.Int64,
    "auroc": pl.Float64,
    "auroc_random": pl.Float64,
    "auroc_hard": pl.Float64,
    "balanced_accuracy": pl.Float64,
    "detection_attempts": pl.Int64,
    "detection_error": pl.Utf8,
}


def summarise(table: pl.DataFrame) -> dict:
    groups = {"all": table} | {
        name: table.filter(pl.col("selection") == name) for name in ("top", "random")
    }
    summary = {}
    for name, group in groups.items():
        ranked = group.filter(pl.col("contrastive_status") == OK)
        detected = group.filter(pl.col("detection_status") == OK)
        summary[name] = {
            "n_features": group.height,
            "n_without_heldout_activation": int(
                (group["contrastive_status"] == "no_heldout").sum()
            ),
            "n_without_label": int((group["contrastive_status"] == "no_label").sum()),
            "contrastive": summarise_ranks(
                ranked["true_rank"].to_list(),
                ranked["n_candidates"].to_list(),
                int((group["contrastive_status"] == PARSE_FAILED).sum()),
            ),
            "detection": summarise_detection(
                detected.select(
                    "auroc", "auroc_random", "auroc_hard", "balanced_accuracy"
                ).to_dicts(),
                int((group["detection_status"] == PARSE_FAILED).sum()),
            ),
        }
    return summary
