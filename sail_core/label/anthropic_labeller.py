"""The Anthropic labeller: one request per feature with its slice images and metadata."""

from __future__ import annotations

from dataclasses import dataclass

from sail_core.label.api import MessageRunner
from sail_core.label.asking import ask_until_valid
from sail_core.label.cache import make_request
from sail_core.label.evidence import FeatureEvidence
from sail_core.label.labels import PARSE_FAILED, Label, tidy_label
from sail_core.label.prompt import RequestSettings, label_request
from sail_core.label.schema import ANY, LABEL_SCHEMA, parse_json_answer
from sail_core.label.usage import UsageTally


def parse_label(_feature: int, text: str) -> dict:
    return parse_json_answer(text, LABEL_SCHEMA)


@dataclass
class AnthropicLabeller:
    runner: MessageRunner
    settings: RequestSettings
    prompt_version: str
    max_attempts: int
    tally: UsageTally
    name: str = "anthropic"
    needs_images: bool = True

    def label(self, evidence: list[FeatureEvidence]) -> tuple[list[Label], dict]:
        requests = {
            e.feature: make_request(label_request(e, self.settings), self.prompt_version)
            for e in evidence
        }
        outcomes = ask_until_valid(
            self.runner, requests, parse_label, self.max_attempts, self.tally
        )
        labels = []
        for e in evidence:
            outcome = outcomes[e.feature]
            keys = tuple(outcome.keys)
            if outcome.value is None:
                labels.append(
                    Label(e.feature, "", (), ANY, ANY, ANY, ANY, PARSE_FAILED, outcome.error, keys)
                )
                continue
            answer = outcome.value
            labels.append(
                Label(
                    feature=e.feature,
                    label=tidy_label(answer["label"]),
                    key_structures=tuple(answer["key_structures"]),
                    modality=answer["modality"],
                    orientation=answer["orientation"],
                    sex=answer["sex"],
                    age_group=answer["age_group"],
                    cache_keys=keys,
                )
            )
        summary = self.tally.summary(len(evidence), "features")
        summary |= {"prompt_version": self.prompt_version, "labeller": self.name}
        return labels, summary
