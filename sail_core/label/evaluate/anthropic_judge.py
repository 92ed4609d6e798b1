"""The Anthropic judge: the model ranks candidate labels, or scores slices for one label.

It sees the slices as images and, unless configured image-only, their metadata (never the
activation, which would give the answer away). Answers that are not the JSON asked for are
followed up and, if still unusable, reported as parse failures.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from sail_core.label.api import MessageRunner
from sail_core.label.asking import Outcome, ask_until_valid
from sail_core.label.cache import make_request
from sail_core.label.evaluate.judges import DetectTask, RankTask
from sail_core.label.evidence import FeatureEvidence
from sail_core.label.prompt import (
    RequestSettings,
    describe_sample,
    image_block,
    request_params,
)
from sail_core.label.schema import AnswerError, parse_json_answer
from sail_core.label.usage import UsageTally

RANK_INSTRUCTIONS = """\
You are an expert radiologist evaluating descriptions of sparse autoencoder features learned \
from CT and MRI slices. You are shown held-out slices on which one feature fired strongly, and \
several candidate descriptions labelled with letters. Exactly one of them was written for this \
feature.

Rank all candidates from best to worst by how well each describes what the feature detects. \
Consider whether modality, orientation, sex and anatomical structures agree with the slices, \
whether the description captures a concept shared by all slices rather than one picture, and \
how specific it is.

Answer with one JSON object: {"ranking": [letters, best first]}, every letter exactly once."""

DETECT_INSTRUCTIONS = """\
You are an expert radiologist checking a description of a sparse autoencoder feature learned \
from CT and MRI slices. You are given the description and a numbered set of slices. The feature \
fires strongly on some of them and not at all on the others.

For every slice, judge how likely it is that the described feature fires on it, from 0 \
(certainly not) to 100 (certainly).

Answer with one JSON object: {"scores": [one integer per slice, in slice order]}."""

RANK_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ranking"],
    "properties": {"ranking": {"type": "array", "items": {"type": "string"}}},
}
DETECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["scores"],
    "properties": {"scores": {"type": "array", "items": {"type": "integer"}}},
}


def parse_ranking(text: str, n: int) -> list[int]:
    letters = [x.strip().upper() for x in parse_json_answer(text, RANK_SCHEMA)["ranking"]]
    expected = list(string.ascii_uppercase[:n])
    if sorted(letters) != expected:
        raise AnswerError(f"the ranking must hold each of {', '.join(expected)} exactly once")
    return [expected.index(letter) for letter in letters]


def parse_scores(text: str, n: int) -> list[float]:
    scores = parse_json_answer(text, DETECT_SCHEMA)["scores"]
    if len(scores) != n or any(not 0 <= s <= 100 for s in scores):
        raise AnswerError(f"expected {n} integers between 0 and 100, got {scores}")
    return [s / 100 for s in scores]


def slices_content(evidence: FeatureEvidence, with_metadata: bool) -> list[dict]:
    """Numbered slices: each image, then (when allowed) its metadata without the activation."""
    content = []
    for number, (sample, png) in enumerate(zip(evidence.samples, evidence.images, strict=True), 1):
        content.append(image_block(png))
        text = describe_sample(number, sample, with_activation=False)
        content.append({"type": "text", "text": text if with_metadata else f"Sample {number}"})
    return content


@dataclass
class AnthropicJudge:
    runner: MessageRunner
    settings: RequestSettings
    prompt_version: str
    max_attempts: int
    with_metadata: bool
    tally: UsageTally
    name: str = "anthropic"
    needs_images: bool = True

    def rank(self, tasks: dict[int, RankTask]) -> dict[int, Outcome[list[int]]]:
        requests, sizes = {}, {}
        for feature, task in tasks.items():
            letters = string.ascii_uppercase
            listing = "\n".join(
                f"{letters[i]}: {c['label']}" for i, c in enumerate(task.candidates)
            )
            content = slices_content(task.evidence, self.with_metadata)
            content.append({"type": "text", "text": f"Candidate descriptions:\n{listing}"})
            params = request_params(self.settings, RANK_INSTRUCTIONS, content, RANK_SCHEMA)
            requests[feature] = make_request(params, self.prompt_version)
            sizes[feature] = len(task.candidates)
        return self._ask(requests, sizes, parse_ranking)

    def detect(self, tasks: dict[int, DetectTask]) -> dict[int, Outcome[list[float]]]:
        requests, sizes = {}, {}
        for feature, task in tasks.items():
            content = [{"type": "text", "text": f"Description: {task.label['label']}"}]
            content += slices_content(task.evidence, self.with_metadata)
            params = request_params(self.settings, DETECT_INSTRUCTIONS, content, DETECT_SCHEMA)
            requests[feature] = make_request(params, self.prompt_version)
            sizes[feature] = len(task.evidence.samples)
        return self._ask(requests, sizes, parse_scores)

    def _ask(self, requests: dict, sizes: dict[int, int], parse) -> dict:
        return ask_until_valid(
            self.runner,
            requests,
            lambda feature, text: parse(text, sizes[feature]),
            self.max_attempts,
            self.tally,
        )

    def summary(self, n_features: int) -> dict:
        return {"judge": self.name, **self.tally.summary(n_features, "features")}
