"""Choosing features, building their evidence, and the labeller/judge/matcher factories."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from sail_core.label.anthropic_labeller import AnthropicLabeller
from sail_core.label.api import ApiSettings, MessageRunner, make_client
from sail_core.label.cache import ResponseCache
from sail_core.label.evaluate.anthropic_judge import AnthropicJudge
from sail_core.label.evaluate.judges import Judge, OfflineJudge
from sail_core.label.evidence import SliceImageReader, build_evidence
from sail_core.label.labels import Labeller, labels_frame
from sail_core.label.models import model_info
from sail_core.label.offline import OfflineLabeller
from sail_core.label.prompt import RequestSettings
from sail_core.label.select import (
    ranking_scores,
    sample_picks,
    select_features,
    usable_features,
)
from sail_core.label.usage import UsageTally

logger = logging.getLogger(__name__)

LABELLERS = ("offline", "anthropic")


@dataclass(frozen=True)
class SelectionSettings:
    ranking: str
    n_top: int
    n_random: int
    n_samples: int
    min_samples: int
    sample_splits: Sequence[str]
    diverse: bool
    monosemanticity_column: str
    seed: int


def choose_features(
    stats: pl.DataFrame,
    top_slices: pl.DataFrame,
    enrichment: pl.DataFrame | None,
    monosemanticity: pl.DataFrame | None,
    settings: SelectionSettings,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The selection (feature, selection, selection_score) and the slices to show for it."""
    picks = sample_picks(
        top_slices, list(settings.sample_splits), settings.n_samples, settings.diverse
    )
    counts = picks.group_by("feature").len("n_samples")
    usable = usable_features(
        stats.with_columns(pl.col("feature").cast(pl.Int64)), counts, settings.min_samples
    )
    scores = ranking_scores(
        stats, settings.ranking, enrichment, monosemanticity, settings.monosemanticity_column
    )
    selection = select_features(scores, usable, settings.n_top, settings.n_random, settings.seed)
    logger.info(
        "%d usable features; labelling %d (top %d by %s, %d random)",
        usable.len(),
        selection.height,
        int((selection["selection"] == "top").sum()),
        settings.ranking,
        int((selection["selection"] == "random").sum()),
    )
    chosen = picks.join(selection.select("feature"), on="feature", how="semi")
    order = selection.with_row_index("order").select("feature", "order")
    ordered = chosen.join(order, on="feature", maintain_order="left")
    return selection, ordered.sort("order", maintain_order=True).drop("order")


def label_selection(
    selection: pl.DataFrame,
    picks: pl.DataFrame,
    index: pl.DataFrame,
    labeller: Labeller,
    read_slices: SliceImageReader | None,
    image_size: int | None,
) -> tuple[pl.DataFrame, dict]:
    reader = read_slices if labeller.needs_images else None
    evidence = build_evidence(picks, index, reader, image_size)
    labels, usage = labeller.label(evidence)
    return labels_frame(labels, evidence, selection, labeller.name), usage


def footer_metadata(values: dict) -> dict[str, str]:
    """Provenance for a parquet footer: strings as they are, everything else as JSON."""
    return {
        k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in values.items()
    }


def request_settings(params: dict) -> RequestSettings:
    return RequestSettings(params["model"], params["max_tokens"], params["temperature"])


def usage_tally(params: dict) -> UsageTally:
    prices = model_info(params["model"]).prices
    return UsageTally(params["model"], prices, params["batch_discount"])


def make_runner(params: dict, cache_dir: str) -> MessageRunner:
    settings = ApiSettings(
        max_retries=params["max_retries"],
        timeout_s=params["timeout_s"],
        batch_min_requests=params["batch_min_requests"],
        poll_interval_s=params["poll_interval_s"],
        max_wait_s=params["max_wait_s"],
        base_url=params["base_url"],
    )
    return MessageRunner(make_client(settings), ResponseCache(cache_dir), settings)


def make_labeller(name: str, offline: dict, anthropic: dict | None, cache_dir: str) -> Labeller:
    if name == "offline":
        return OfflineLabeller(offline["consistency"], offline["region_share"])
    if name == "anthropic" and anthropic is not None:
        return AnthropicLabeller(
            make_runner(anthropic, cache_dir),
            request_settings(anthropic),
            anthropic["prompt_version"],
            anthropic["max_attempts"],
            usage_tally(anthropic),
        )
    raise ValueError(f"unknown labeller {name!r}; choose one of {', '.join(LABELLERS)}")


def make_judge(name: str, anthropic: dict | None, with_metadata: bool, cache_dir: str) -> Judge:
    if name == "offline":
        return OfflineJudge()
    if name == "anthropic" and anthropic is not None:
        return AnthropicJudge(
            make_runner(anthropic, cache_dir),
            request_settings(anthropic),
            anthropic["prompt_version"],
            anthropic["max_attempts"],
            with_metadata,
            usage_tally(anthropic),
        )
    raise ValueError(f"unknown judge {name!r}; choose one of {', '.join(LABELLERS)}")
