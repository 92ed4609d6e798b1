"""CT pathologies: a label for meta.csv and a visible lesion inside the affected structure."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sail_core.data.anatomy import CT_STRUCTURES
from sail_core.data.phantom.body import LABEL_ID
from sail_core.data.phantom.shapes import Grid
from sail_core.data.phantom.tissues import TISSUE_ID

NO_PATHOLOGY, NO_LOCATION = "no_pathology", "no_location"
_MIN_VOXELS = 20


def _starting(*prefixes: str) -> tuple[str, ...]:
    return tuple(s for s in CT_STRUCTURES if s.startswith(prefixes))


LOCATIONS: dict[str, tuple[str, ...]] = {
    "brain": ("brain",),
    "lung": _starting("lung_"),
    "liver": ("liver",),
    "gallbladder": ("gallbladder",),
    "spleen": ("spleen",),
    "pancreas": ("pancreas",),
    "kidney": ("kidney_left", "kidney_right"),
    "colon": ("colon",),
    "urinary_bladder": ("urinary_bladder",),
    "prostate": ("prostate",),
    "spine": _starting("vertebrae_"),
    "bone": _starting("rib_", "femur_", "hip_", "humerus_", "clavicula_", "skull", "sternum"),
}
"""pathology_location value -> the structures a lesion there lies in."""


class Pathology(NamedTuple):
    probability: float
    lesion_tissue: str
    radius_mm: tuple[float, float]
    locations: tuple[str, ...]


PATHOLOGIES: dict[str, Pathology] = {
    "tumor": Pathology(0.2, "tumor", (8.0, 20.0), ("liver", "lung", "kidney", "pancreas", "colon", "brain", "urinary_bladder", "prostate", "bone")),
    "inflammation": Pathology(0.12, "inflammation", (10.0, 25.0), ("colon", "pancreas", "gallbladder", "lung", "kidney")),
    "trauma": Pathology(0.1, "hematoma", (6.0, 15.0), ("bone", "spleen", "liver", "brain")),
    "degenerative": Pathology(0.08, "sclerosis", (4.0, 8.0), ("spine",)),
}  # fmt: skip
"""The pathologies besides no_pathology: chance per CT, lesion, lesion radius, where it occurs."""


def sample_pathology(rng: np.random.Generator) -> str:
    names = [NO_PATHOLOGY, *PATHOLOGIES]
    probabilities = [1.0 - sum(p.probability for p in PATHOLOGIES.values())]
    probabilities += [p.probability for p in PATHOLOGIES.values()]
    return names[rng.choice(len(names), p=probabilities)]


def add_lesion(
    pathology: str, labels: np.ndarray, tissues: np.ndarray, grid: Grid, rng: np.random.Generator
) -> tuple[str, str]:
    """Paint a ball of lesion tissue, clipped to a structure of a location in the field of view.

    Returns the (pathology, pathology_location) written to meta.csv: (no_pathology, no_location)
    when the pathology has no location inside this scan.
    """
    if pathology == NO_PATHOLOGY:
        return NO_PATHOLOGY, NO_LOCATION
    spec = PATHOLOGIES[pathology]
    in_view = {}
    for location in spec.locations:
        target = np.isin(labels, [LABEL_ID[s] for s in LOCATIONS[location]])
        if target.sum() >= _MIN_VOXELS:
            in_view[location] = target
    if not in_view:
        return NO_PATHOLOGY, NO_LOCATION
    location = list(in_view)[rng.integers(len(in_view))]
    target = in_view[location]
    candidates = np.flatnonzero(target)
    center = np.unravel_index(candidates[rng.integers(len(candidates))], target.shape)
    radius = rng.uniform(*spec.radius_mm)
    squared = sum(
        (((np.arange(n) - c) * s) ** 2).reshape([-1 if d == dim else 1 for d in range(3)])
        for dim, (n, c, s) in enumerate(zip(grid.shape, center, grid.spacing, strict=True))
    )
    tissues[(squared <= radius**2) & target] = TISSUE_ID[spec.lesion_tissue]
    return pathology, location
