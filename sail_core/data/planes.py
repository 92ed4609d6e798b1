"""The planes a scan exports and how each becomes square uint8 display images.

Per orientation: make in-plane pixels square by resampling the coarser axis, take the centred
square crop, resize it with antialiasing to S x S and turn it to the radiological display
convention. CT exports axial, coronal and sagittal slices, MRI only its acquisition plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sail_core.data.volume import Volume, plane_axes

DISPLAY_CONVENTION = (
    "radiological: axial slices show anterior at the top and the patient's left on the image "
    "right; coronal slices superior at the top, patient's left on the image right; sagittal "
    "slices superior at the top, anterior on the image left"
)
CHANNELS_PER_PASS = 4


@dataclass(frozen=True)
class PlaneGeometry:
    """How the slices along one canonical axis become square images.

    `in_plane` are the other two axes in increasing order. When their spacings differ, the coarser
    axis is resampled to the finer spacing: `source` is the in-plane shape, `grid` the resampled
    one. The centred square crop (`crop_start`, `crop_side`) is taken on the grid; `source_ranges`
    are the half-open voxel ranges of the original grid it covers (where presence is counted).
    """

    orientation: str
    axis: int
    in_plane: tuple[int, int]
    source: tuple[int, int]
    grid: tuple[int, int]
    crop_start: tuple[int, int]
    crop_side: int
    source_ranges: tuple[tuple[int, int], tuple[int, int]]


def _nearest_source(pixel: int, grid: int, source: int) -> int:
    return min(int((pixel + 0.5) * source / grid), source - 1)


def plane_geometry(
    orientation: str,
    axis: int,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    tolerance_mm: float = 1e-3,
) -> PlaneGeometry:
    in_plane = tuple(a for a in range(3) if a != axis)
    source = tuple(shape[a] for a in in_plane)
    spacings = tuple(spacing[a] for a in in_plane)
    if abs(spacings[0] - spacings[1]) > tolerance_mm:
        finest = min(spacings)
        grid = tuple(max(1, round(n * s / finest)) for n, s in zip(source, spacings, strict=True))
    else:
        grid = source
    side = min(grid)
    starts = tuple((g - side) // 2 for g in grid)
    ranges = tuple(
        (_nearest_source(start, g, n), _nearest_source(start + side - 1, g, n) + 1)
        for start, g, n in zip(starts, grid, source, strict=True)
    )
    return PlaneGeometry(orientation, axis, in_plane, source, grid, starts, side, ranges)


def acquisition_axis(
    shape: tuple[int, int, int], spacing: tuple[float, float, float], tolerance_mm: float = 1e-3
) -> int:
    """An MRI's through-plane axis: the coarsest spacing, then the fewest voxels, then axis 2."""
    coarsest = max(spacing)
    candidates = [a for a in range(3) if coarsest - spacing[a] <= tolerance_mm]
    return min(candidates, key=lambda a: (shape[a], -a))


def exported_axes(modality: str, image: Volume, tolerance_mm: float) -> dict[str, int]:
    axes = plane_axes(image.affine)
    if modality == "ct":
        return axes
    if modality == "mri":
        through = acquisition_axis(image.shape, image.spacing, tolerance_mm)
        return {o: a for o, a in axes.items() if a == through}
    raise ValueError(f"unknown modality {modality!r}")


def to_display(planes: np.ndarray) -> np.ndarray:
    """(n, u, v) planes of a RAS volume -> (n, rows, cols) images in DISPLAY_CONVENTION.

    Both in-plane axes point to patient right/anterior/superior, so rows run along v reversed
    (anterior or superior first) and columns along u reversed (patient right, or anterior, first).
    """
    return planes.transpose(0, 2, 1)[:, ::-1, ::-1]


def _resize(planes: torch.Tensor, size: tuple[int, int], antialias: bool) -> torch.Tensor:
    """(n, u, v) uint8 planes -> (n, *size) by bilinear interpolation.

    torch's uint8 kernels process up to 4 interleaved channels for the price of one, so planes go
    through them four at a time as the channels of one image: each channel is interpolated on its
    own, so the result is the same as one plane at a time.
    """
    n, u, v = planes.shape
    whole = n - n % CHANNELS_PER_PASS
    groups = []
    if whole:
        groups.append(planes[:whole].reshape(whole // CHANNELS_PER_PASS, CHANNELS_PER_PASS, u, v))
    if n > whole:
        groups.append(planes[whole:][None])
    resized = [
        F.interpolate(g, size=size, mode="bilinear", antialias=antialias, align_corners=False)
        for g in groups
    ]
    return torch.cat([r.reshape(-1, *size) for r in resized])


def _square(planes: torch.Tensor, geometry: PlaneGeometry) -> torch.Tensor:
    """(n, u, v) uint8 planes -> (n, side, side) centred crops with square pixels."""
    (u0, v0), side = geometry.crop_start, geometry.crop_side
    if geometry.grid != geometry.source:
        planes = _resize(planes, geometry.grid, antialias=False)
    return planes[:, u0 : u0 + side, v0 : v0 + side]


def render_slices(
    pixels: np.ndarray, geometry: PlaneGeometry, first: int, last: int, size: int, batch: int
) -> np.ndarray:
    """Slices first..last (inclusive) of a uint8 RAS volume as (n, size, size) display images.

    Interpolation runs on uint8 (torch's fixed-point kernels: within one grey level of float
    arithmetic, several times faster).
    """
    stack = torch.from_numpy(np.moveaxis(pixels, geometry.axis, 0)[first : last + 1])
    out = np.empty((len(stack), size, size), np.uint8)
    for start in range(0, len(stack), batch):
        resized = _resize(_square(stack[start : start + batch], geometry), (size, size), True)
        out[start : start + len(resized)] = to_display(resized.numpy())
    return out
