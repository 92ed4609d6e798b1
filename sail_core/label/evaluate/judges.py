"""Judges of labels on held-out slices: rank candidate labels, or score slices for one label.

The offline judge is a deterministic metadata matcher: a label fits a slice by how many of its
dimensions (modality, orientation, sex, age group, key structures) the slice's metadata agree
with. It checks metadata consistency, not what the images show, and every output it feeds says
so. The Anthropic judge (anthropic_judge.py) asks the model instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sail_core.label.asking import Outcome
from sail_core.label.evidence import FeatureEvidence, SampleMeta
from sail_core.label.offline import OLDER_AGE, YOUNGER_AGE
from sail_core.label.schema import ANY
from sail_core.label.terms import resolve_terms

OFFLINE_NOTE = (
    "offline judge: deterministic metadata matcher (modality, orientation, sex, age group and key "
    "structures of the label against slice metadata, 0.5 for what a label leaves unstated); "
    "no language model, images unused"
)
SEX_CODE = {"male": "m", "female": "f"}
UNSTATED = 0.5


@dataclass(frozen=True)
class RankTask:
    candidates: list[Mapping]
    evidence: FeatureEvidence


@dataclass(frozen=True)
class DetectTask:
    label: Mapping
    evidence: FeatureEvidence


class Judge(Protocol):
    name: str
    needs_images: bool

    def rank(self, tasks: dict[int, RankTask]) -> dict[int, Outcome[list[int]]]:
        """Candidate positions, best first, per feature."""
        ...

    def detect(self, tasks: dict[int, DetectTask]) -> dict[int, Outcome[list[float]]]:
        """A score in [0, 1] per evidence slice: how surely the labelled feature fires on it."""
        ...

    def summary(self, n_features: int) -> dict: ...


def label_fit(label: Mapping, sample: SampleMeta) -> float:
    """How well a label fits a slice's metadata, in [0, 1].

    Each of modality, orientation, sex, age group and anatomy scores 1 when the label states it
    and the slice agrees, 0 when it disagrees (anatomy: the share of named structures present),
    and 0.5 when the label does not state it, so a vague label never beats a specific right one.
    """
    checks = [UNSTATED] * 5
    if label["modality"] != ANY:
        checks[0] = float(sample.modality == label["modality"])
    if label["orientation"] != ANY:
        checks[1] = float(sample.orientation == label["orientation"])
    if label["sex"] != ANY:
        checks[2] = float(sample.sex == SEX_CODE[label["sex"]])
    if label["age_group"] != ANY:
        age = sample.age
        older = label["age_group"] == "older"
        checks[3] = float(age is not None and (age >= OLDER_AGE if older else age < YOUNGER_AGE))
    terms = resolve_terms(label["key_structures"])
    if terms:
        checks[4] = float(np.mean([bool(sample.structures & s) for s in terms.values()]))
    return float(np.mean(checks))


@dataclass
class OfflineJudge:
    name: str = "offline"
    needs_images: bool = False

    def rank(self, tasks: dict[int, RankTask]) -> dict[int, Outcome[list[int]]]:
        outcomes = {}
        for feature, task in tasks.items():
            fits = [
                np.mean([label_fit(c, s) for s in task.evidence.samples]) for c in task.candidates
            ]
            order = sorted(range(len(fits)), key=lambda i: (-fits[i], i))
            outcomes[feature] = Outcome(value=order)
        return outcomes

    def detect(self, tasks: dict[int, DetectTask]) -> dict[int, Outcome[list[float]]]:
        return {
            feature: Outcome(value=[label_fit(task.label, s) for s in task.evidence.samples])
            for feature, task in tasks.items()
        }

    def summary(self, n_features: int) -> dict:
        return {"judge": self.name, "note": OFFLINE_NOTE, "cost_usd": 0.0}
