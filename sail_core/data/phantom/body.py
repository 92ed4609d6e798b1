"""One subject's body: every part in painting order, and the labels the parts may carry."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sail_core.data.anatomy import CT_STRUCTURES, MRI_STRUCTURES
from sail_core.data.phantom import organs, skeleton
from sail_core.data.phantom.frame import Frame, Part

LABELS: tuple[str, ...] = CT_STRUCTURES + ("intervertebral_discs",)
"""Every structure a part can be labelled with: the CT classes plus the MRI-only discs."""
LABEL_ID: dict[str, int] = {name: index + 1 for index, name in enumerate(LABELS)}
"""Label map value of each structure; 0 is unlabelled."""

_MRI_UNION = {
    "lung_left": ("lung_upper_lobe_left", "lung_lower_lobe_left"),
    "lung_right": ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right"),
    "vertebrae": tuple(
        s for s in CT_STRUCTURES if s.startswith("vertebrae_") and s != "vertebrae_S1"
    ),
    "sacrum": ("sacrum", "vertebrae_S1"),
}
MASK_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "ct": {name: (name,) for name in CT_STRUCTURES},
    "mri": {name: _MRI_UNION.get(name, (name,)) for name in MRI_STRUCTURES},
}
"""Per modality: output mask name -> the part labels it is the union of."""


def structure_masks(labels: np.ndarray, modality: str) -> dict[str, np.ndarray]:
    """One uint8 binary mask per TotalSegmentator structure of `modality`, empty or not."""
    masks = {}
    for name, sources in MASK_SOURCES[modality].items():
        ids = [LABEL_ID[source] for source in sources]
        inside = labels == ids[0] if len(ids) == 1 else np.isin(labels, ids)
        masks[name] = inside.view(np.uint8)
    return masks


class Body(NamedTuple):
    frame: Frame
    parts: list[Part]
    """In painting order: later parts paint over earlier ones."""


def build_body(rng: np.random.Generator, sex: str) -> Body:
    frame = Frame(rng, sex)
    head = frame.organ((0, 5, 760), (75, 92, 108), shift_mm=2.0, size_sd=0.04)
    skull, skull_base_z = skeleton.skull(frame, head)
    parts = [
        *organs.skin_and_wall(frame, head),
        *organs.muscles(frame),
        *organs.lungs_and_heart(frame),
        *organs.abdominal_organs(frame),
        *organs.vessels(frame),
        *organs.neck_organs(frame),
        *organs.brain(frame, head, skull_base_z),
        skull,
        *skeleton.spine(frame),
        *skeleton.rib_cage(frame),
        *skeleton.shoulders(frame),
        *skeleton.pelvis_and_femurs(frame),
    ]
    return Body(frame, parts)
