"""Study types, the body range each one covers, and the voxel grid of a scan."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sail_core.data.phantom.frame import Frame, Part
from sail_core.data.phantom.shapes import Grid

_MARGIN_MM = 12.0
_FOOTPRINT_STEP_MM = 10.0
_FOOTPRINT_REACH_MM = 400.0
_MAX_PIXEL_PER_THICKNESS = 0.7
SLICE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


class Study(NamedTuple):
    """Template z range covered, relative frequency, MRI acquisition planes, and an optional
    fixed in-plane field of view (template centre and full x/y extent) instead of the body's."""

    z_range: tuple[float, float]
    weight: float
    planes: tuple[str, ...] = ("axial",)
    center_xy: tuple[float, float] | None = None
    extent_xy: tuple[float, float] | None = None


CT_STUDIES: dict[str, Study] = {
    "ct head": Study((640, 880), 2),
    "ct neck": Study((520, 720), 1, center_xy=(0, -10), extent_xy=(250, 250)),
    "ct thorax": Study((260, 590), 3),
    "ct thorax-neck": Study((260, 720), 1),
    "ct heart": Study((320, 480), 1, center_xy=(-20, 15), extent_xy=(260, 260)),
    "ct abdomen": Study((140, 380), 2),
    "ct pelvis": Study((-90, 170), 1),
    "ct abdomen-pelvis": Study((-90, 380), 3),
    "ct thorax-abdomen": Study((140, 590), 1),
    "ct thorax-abdomen-pelvis": Study((-90, 590), 3),
    "ct neck-thorax-abdomen-pelvis": Study((-90, 720), 1),
    "ct polytrauma": Study((-250, 880), 1),
    "ct whole body": Study((-440, 880), 1),
}
"""CT study types as TotalSegmentator's meta.csv spells them (keys of the study's window table)."""

MRI_STUDIES: dict[str, Study] = {
    "head": Study((640, 880), 1, planes=("axial", "sagittal")),
    "thorax": Study((270, 570), 1, planes=("axial", "coronal")),
    "abdomen": Study((140, 380), 3, planes=("axial", "coronal")),
    "pelvis": Study((-80, 170), 2, planes=("axial", "sagittal")),
    "spine": Study((90, 600), 1, planes=("sagittal",), center_xy=(0, -50), extent_xy=(90, 230)),
    "lower limb": Study((-440, -40), 1, planes=("coronal", "axial")),
}


@dataclass(frozen=True)
class PhantomSizes:
    """Grid sizes: voxels across the larger in-plane side (for MRI at least; more when the
    pixels would not be finer than the slices), the most CT slices along the body (the CT
    spacing, isotropic, grows for long fields of view) and the nominal MRI slice thickness."""

    ct_matrix: int = 112
    ct_max_slices: int = 160
    mri_matrix: int = 96
    mri_slice_thickness_mm: float = 6.0

    def __post_init__(self):
        for name in ("ct_matrix", "ct_max_slices", "mri_matrix"):
            if getattr(self, name) < 8:
                raise ValueError(f"phantom {name} must be at least 8, got {getattr(self, name)}")
        if not self.mri_slice_thickness_mm > 0:
            raise ValueError(
                f"phantom mri_slice_thickness_mm must be positive, got {self.mri_slice_thickness_mm}"
            )


def field_of_view(
    study: Study, frame: Frame, parts: list[Part], rng
) -> tuple[np.ndarray, np.ndarray]:
    """Subject-mm corners (lo, hi) of the box a scan of `study` covers, with a jittered z range."""
    z_lo, z_hi = (z * frame.height + rng.normal(0.0, 10.0) for z in study.z_range)
    if study.extent_xy is None:
        xy_lo, xy_hi = _footprint(parts, z_lo, z_hi)
        xy_lo, xy_hi = xy_lo - _MARGIN_MM, xy_hi + _MARGIN_MM
    else:
        center = np.array(study.center_xy) * frame.breadth
        half = np.array(study.extent_xy) * frame.breadth / 2
        xy_lo, xy_hi = center - half, center + half
    return np.array([*xy_lo, z_lo]), np.array([*xy_hi, z_hi])


def _footprint(parts: list[Part], z_lo: float, z_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """x/y extent of the skin between two heights, from a coarse rasterisation of the outline."""
    reach, step = _FOOTPRINT_REACH_MM, _FOOTPRINT_STEP_MM
    n_xy, n_z = int(2 * reach / step) + 1, max(int((z_hi - z_lo) / step) + 1, 2)
    coarse = Grid(
        (n_xy, n_xy, n_z), (step, step, (z_hi - z_lo) / (n_z - 1)), (-reach, -reach, z_lo)
    )
    covered = np.zeros(coarse.shape[:2], dtype=bool)
    for part in parts:
        if not part.outline:
            continue
        box = coarse.box(*part.shape.bounds())
        if box is not None:
            inside = part.shape.depth(*coarse.coordinates(box)) <= 1
            covered[box[:2]] |= inside.any(axis=2)
    if not covered.any():
        raise ValueError(f"the body model has no skin between z={z_lo:.0f} and z={z_hi:.0f} mm")
    rows, cols = np.nonzero(covered)
    lo = np.array([rows.min(), cols.min()]) * step - reach - step / 2
    hi = np.array([rows.max(), cols.max()]) * step - reach + step / 2
    return lo, hi


def ct_grid(lo: np.ndarray, hi: np.ndarray, sizes: PhantomSizes) -> Grid:
    """Isotropic voxels, as in TotalSegmentator CT; a square in-plane field of view."""
    side = float(max(hi[:2] - lo[:2]))
    length = float(hi[2] - lo[2])
    spacing = max(side / sizes.ct_matrix, length / sizes.ct_max_slices)
    center = (lo + hi) / 2
    return _grid(center, np.array([side, side, length]), np.full(3, spacing))


def mri_grid(
    lo, hi, plane: str, in_plane_stretch: float, thickness_mm: float, sizes: PhantomSizes
) -> Grid:
    """Thick slices across `plane`; the first in-plane axis has `in_plane_stretch` times the
    spacing of the second, as with a rectangular acquisition matrix. In-plane pixels stay clearly
    finer than the slice thickness (the matrix grows if needed), so the slice axis is the coarsest."""
    extent = hi - lo
    slice_axis = SLICE_AXIS[plane]
    in_plane = [axis for axis in range(3) if axis != slice_axis]
    pixel = min(
        float(max(extent[in_plane])) / sizes.mri_matrix,
        _MAX_PIXEL_PER_THICKNESS * thickness_mm / in_plane_stretch,
    )
    spacing = np.empty(3)
    spacing[slice_axis] = thickness_mm
    spacing[in_plane[0]] = pixel * in_plane_stretch
    spacing[in_plane[1]] = pixel
    return _grid((lo + hi) / 2, extent, spacing)


def _grid(center: np.ndarray, extent: np.ndarray, spacing: np.ndarray) -> Grid:
    spacing = np.round(spacing, 3)
    shape = tuple(max(int(math.ceil(e / s)), 1) for e, s in zip(extent, spacing, strict=True))
    origin = center - (np.array(shape) - 1) / 2 * spacing
    return Grid(
        shape=shape,
        spacing=tuple(float(s) for s in spacing),
        origin=tuple(float(o) for o in origin),
    )
