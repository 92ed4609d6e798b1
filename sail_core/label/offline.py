"""The offline labeller: a deterministic name built from the metadata of a feature's top slices.

No language model is involved, and every label it writes says so (labeller = "offline"). It
states what the slices share, in the study's phrasing: modality and orientation, the regions
present in most of them, and sex or age when consistent, e.g. "Axial CT of the liver and spleen
in older patients".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sail_core.label.evidence import FeatureEvidence, SampleMeta
from sail_core.label.labels import Label
from sail_core.label.prompt import readable
from sail_core.label.schema import ANY

OLDER_AGE = 65.0
YOUNGER_AGE = 40.0
SOURCE_NOTE = "offline labeller: names built from slice metadata statistics, no language model"


def _consistent(values: Sequence[object], share: float) -> object | None:
    value, count = Counter(values).most_common(1)[0]
    return value if count / len(values) >= share else None


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass(frozen=True)
class OfflineLabeller:
    consistency: float
    region_share: float
    max_regions: int = 3
    name: str = "offline"
    needs_images: bool = False

    def label(self, evidence: list[FeatureEvidence]) -> tuple[list[Label], dict]:
        labels = [self.label_one(e) for e in evidence]
        return labels, {"labeller": self.name, "note": SOURCE_NOTE, "cost_usd": 0.0}

    def key_regions(self, samples: Sequence[SampleMeta]) -> list[str]:
        presence = Counter(r for s in samples for r in s.region_names)
        structures = Counter()
        for sample in samples:
            structures.update(dict(sample.regions))
        common = [r for r, n in presence.items() if n / len(samples) >= self.region_share]
        common.sort(key=lambda r: (-presence[r], -structures[r], r))
        return common[: self.max_regions]

    def age_group(self, samples: Sequence[SampleMeta]) -> str:
        ages = [s.age for s in samples]
        if any(a is None for a in ages):
            return ANY
        if sum(a >= OLDER_AGE for a in ages) / len(ages) >= self.consistency:
            return "older"
        if sum(a < YOUNGER_AGE for a in ages) / len(ages) >= self.consistency:
            return "younger"
        return ANY

    def label_one(self, evidence: FeatureEvidence) -> Label:
        samples = evidence.samples
        if not samples:
            raise ValueError(f"feature {evidence.feature}: no top slices to label from")
        modality = _consistent([s.modality for s in samples], self.consistency) or ANY
        orientation = _consistent([s.orientation for s in samples], self.consistency) or ANY
        sex = {"m": "male", "f": "female"}.get(
            _consistent([s.sex for s in samples], self.consistency), ANY
        )
        age_group = self.age_group(samples)
        regions = self.key_regions(samples)

        text = "CT and MRI" if modality == ANY else modality.upper()
        if orientation != ANY:
            text = f"{orientation.capitalize()} {text}"
        if regions:
            text += f" of the {_join([readable(r) for r in regions])}"
        people = " ".join(w for w in (age_group, sex) if w != ANY)
        if people:
            text += f" in {people} patients"
        return Label(
            feature=evidence.feature,
            label=text,
            key_structures=tuple(regions),
            modality=modality,
            orientation=orientation,
            sex=sex,
            age_group=age_group,
        )
