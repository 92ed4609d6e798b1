"""One phantom scan: its meta.csv fields, its image and its label map, on a RAS grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sail_core.data.phantom.body import build_body
from sail_core.data.phantom.fov import (
    CT_STUDIES,
    MRI_STUDIES,
    PhantomSizes,
    ct_grid,
    field_of_view,
    mri_grid,
)
from sail_core.data.phantom.meta import (
    MRI_SOURCES,
    common_fields,
    ct_scanner,
    mri_scanner,
    sequence_timing,
)
from sail_core.data.phantom.pathology import add_lesion, sample_pathology
from sail_core.data.phantom.render import ct_image, mri_image, rasterise
from sail_core.data.phantom.shapes import Grid
from sail_core.data.phantom.tissues import MRI_SEQUENCES


@dataclass(frozen=True)
class PhantomScan:
    """Arrays in canonical RAS layout (axis 0 towards patient right, 1 anterior, 2 superior)."""

    image: np.ndarray
    labels: np.ndarray
    grid: Grid
    plane: str
    """The plane the slices were acquired in."""


def ct_scan(
    image_id: str,
    gender: str,
    institute: str,
    study_type: str,
    rng: np.random.Generator,
    sizes: PhantomSizes,
) -> tuple[dict, PhantomScan]:
    """meta.csv fields and volume of one CT."""
    fields = common_fields(image_id, gender, institute, study_type, rng)
    model, kvp = ct_scanner(fields["manufacturer"], study_type, rng)
    body = build_body(rng, gender)
    grid = ct_grid(*field_of_view(CT_STUDIES[study_type], body.frame, body.parts, rng), sizes)
    labels, tissues = rasterise(body.parts, grid)
    pathology, location = add_lesion(sample_pathology(rng), labels, tissues, grid, rng)
    noise_hu = rng.uniform(8.0, 14.0) * 120.0 / kvp  # lower tube voltage, fewer photons, more noise
    image = ct_image(tissues, rng, enhanced=bool(rng.random() < 0.6), noise_hu=noise_hu)
    fields.update(scanner_model=model, kvp=kvp, pathology=pathology, pathology_location=location)
    return fields, PhantomScan(image, labels, grid, plane="axial")


def mri_scan(
    image_id: str,
    gender: str,
    institute: str,
    study_type: str,
    rng: np.random.Generator,
    sizes: PhantomSizes,
) -> tuple[dict, PhantomScan]:
    """meta.csv fields and volume of one MRI."""
    study = MRI_STUDIES[study_type]
    fields = common_fields(image_id, gender, institute, study_type, rng)
    model, tesla = mri_scanner(fields["manufacturer"], rng)
    sequence = MRI_SEQUENCES[rng.integers(len(MRI_SEQUENCES))]
    echo_time, repetition_time = sequence_timing(sequence, rng)
    thickness = round(sizes.mri_slice_thickness_mm * float(rng.choice([0.8, 1.0, 1.2])), 2)
    plane = study.planes[rng.integers(len(study.planes))]
    body = build_body(rng, gender)
    lo, hi = field_of_view(study, body.frame, body.parts, rng)
    grid = mri_grid(lo, hi, plane, float(rng.choice([1.0, 1.25])), thickness, sizes)
    labels, tissues = rasterise(body.parts, grid)
    image = mri_image(tissues, rng, sequence, gain=rng.uniform(600.0, 1500.0))
    fields.update(
        scanner_model=model,
        magnetic_field_strength=tesla,
        scanning_sequence=sequence,
        echo_time=echo_time,
        repetition_time=repetition_time,
        slice_thickness=thickness,
        source=MRI_SOURCES[int(rng.random() < 0.3)],
    )
    return fields, PhantomScan(image, labels, grid, plane=plane)
