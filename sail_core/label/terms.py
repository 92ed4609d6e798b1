"""Anatomy words (structure names, regions, spine levels) resolved to TotalSegmentator structures.

Labels and queries name anatomy loosely ("rib cage", "kidney", "lumbar spine"); slices record
presence per structure. One resolver serves the label judge and the retrieval metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.data.anatomy import REGION_OF, SPINE_LEVEL_OF

_BY_REGION: dict[str, frozenset[str]] = {}
for _structure, _region in REGION_OF.items():
    _BY_REGION[_region] = _BY_REGION.get(_region, frozenset()) | {_structure}

_BY_SPINE_LEVEL: dict[str, frozenset[str]] = {}
for _vertebra, _level in SPINE_LEVEL_OF.items():
    _BY_SPINE_LEVEL[_level] = _BY_SPINE_LEVEL.get(_level, frozenset()) | {_vertebra}


# Clinical words for body parts that span several regions.
_COMPOSITES: dict[str, tuple[str, ...]] = {
    "head": ("skull", "brain"),
    "thorax": ("lungs", "rib_cage", "heart"),
    "chest": ("lungs", "rib_cage", "heart"),
    "mediastinum": ("heart", "aorta", "esophagus", "airways", "venae_cavae"),
    "abdomen": ("liver", "spleen", "kidneys", "pancreas", "stomach", "bowel"),
    "retroperitoneum": ("kidneys", "adrenal_glands", "pancreas", "aorta", "venae_cavae"),
    "pelvis": ("pelvic_bones", "sacrum", "urinary_bladder"),
    "bony_pelvis": ("pelvic_bones", "sacrum"),
    "spinal_canal": ("spinal_cord",),
    "thoracolumbar_spine": ("thoracic_spine", "lumbar_spine"),
}


def _normalise(term: str) -> str:
    return "_".join(term.lower().replace("-", " ").split())


def resolve_term(term: str) -> frozenset[str] | None:
    """Structures meant by `term` (a structure, region, spine level or clinical body part such
    as "pelvis"; singular or plural)."""
    name = _normalise(term)
    if name in _COMPOSITES:
        return frozenset().union(*(resolve_term(part) for part in _COMPOSITES[name]))
    for candidate in (name, f"{name}s", name.removesuffix("s")):
        if candidate in _BY_REGION:
            return _BY_REGION[candidate]
        if candidate in _BY_SPINE_LEVEL:
            return _BY_SPINE_LEVEL[candidate]
        if candidate in REGION_OF:
            return frozenset({candidate})
    return None


def resolve_terms(terms: Iterable[str]) -> dict[str, frozenset[str]]:
    """The resolvable terms with their structures; terms naming no known anatomy are left out."""
    resolved = {term: resolve_term(term) for term in terms}
    return {term: structures for term, structures in resolved.items() if structures}


def present_structures(row: Mapping[str, object]) -> frozenset[str]:
    """Structures marked present in a slice row (`structure_<name>` columns)."""
    return frozenset(
        key[len(STRUCTURE_PREFIX) :]
        for key, value in row.items()
        if key.startswith(STRUCTURE_PREFIX) and value
    )


def regions_of(structures: Iterable[str]) -> dict[str, int]:
    """Region -> number of the given structures in it."""
    counts: dict[str, int] = {}
    for structure in structures:
        if structure not in REGION_OF:
            raise KeyError(f"unknown TotalSegmentator structure {structure!r}")
        region = REGION_OF[structure]
        counts[region] = counts.get(region, 0) + 1
    return counts
