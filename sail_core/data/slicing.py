"""One scan -> square uint8 slices per anatomical orientation, with per-slice structure presence.

Steps: reorient to canonical RAS (volume.py); window to uint8 (windowing.py); per orientation, make
in-plane pixels square by resampling the coarser axis, take the centred square crop, resize it with
antialiasing to S x S and turn it to the radiological display convention; count every mask's voxels
inside that crop per slice; keep the slices from the first to the last one with any structure.
CT exports axial, coronal and sagittal slices, MRI only its acquisition plane.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
import zarr

from sail_core.columns import REGION_PREFIX, STRUCTURE_PREFIX, scan_id
from sail_core.data.anatomy import REGION_OF
from sail_core.data.errors import BadScanError
from sail_core.data.volume import (
    Volume,
    load_image,
    load_mask,
    mask_files,
    plane_axes,
    sha256_file,
)
from sail_core.data.windowing import ct_window, window_ct, window_mri
from sail_core.io import atomic_output, write_parquet

log = logging.getLogger(__name__)

DISPLAY_CONVENTION = (
    "radiological: axial slices show anterior at the top and the patient's left on the image "
    "right; coronal slices superior at the top, patient's left on the image right; sagittal "
    "slices superior at the top, anterior on the image left"
)
KEY_SCHEMA = {
    "modality": pl.Utf8,
    "image_id": pl.Utf8,
    "orientation": pl.Utf8,
    "index": pl.Int32,
    "array_pos": pl.Int32,
}
# Subject-table columns that describe files or problems, not the slice.
NON_SLICE_SUBJECT_COLUMNS = ("image_path", "segmentation_dir", "problem")
MAX_SHARD_BYTES = 16 << 20


@dataclass(frozen=True)
class SlicingParams:
    size: int
    presence_min_voxels: int = 1
    # of voxels != 0, not > 0: 0 is padding, negatives are resampling undershoot inside tissue
    mri_percentiles: tuple[float, float] = (1.0, 99.0)
    seed: int = 0  # slicing is deterministic; the run's seed is recorded with the outputs
    anisotropy_tolerance_mm: float = 1e-3
    batch_slices: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "mri_percentiles", tuple(float(p) for p in self.mri_percentiles))
        low, high = self.mri_percentiles
        if self.size < 1:
            raise ValueError(f"slice size must be positive, got {self.size}")
        if self.presence_min_voxels < 1:
            raise ValueError(f"presence_min_voxels must be >= 1, got {self.presence_min_voxels}")
        if not 0 <= low < high <= 100:
            raise ValueError(
                f"mri_percentiles must satisfy 0 <= low < high <= 100, got {low, high}"
            )
        if self.batch_slices < 1:
            raise ValueError(f"batch_slices must be positive, got {self.batch_slices}")

    def to_attrs(self) -> dict:
        return {**asdict(self), "mri_percentiles": list(self.mri_percentiles)}


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


@dataclass
class SlicedScan:
    modality: str
    image_id: str
    slices: dict[str, np.ndarray]
    table: pl.DataFrame
    attrs: dict


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


def _bounding_box(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """Half-open index range of the non-zero voxels along each axis; None for an empty mask."""
    footprint = mask.any(axis=2)
    xs = np.flatnonzero(footprint.any(axis=1))
    if xs.size == 0:
        return None
    ys = np.flatnonzero(footprint.any(axis=0))
    zs = np.flatnonzero(mask.any(axis=(0, 1)))
    return [(int(i[0]), int(i[-1]) + 1) for i in (xs, ys, zs)]


def structure_counts(
    mask: np.ndarray, geometries: dict[str, PlaneGeometry]
) -> dict[str, np.ndarray]:
    """Per orientation, the mask's voxels inside each slice's crop (one count per slice)."""
    counts = {o: np.zeros(mask.shape[g.axis], np.int64) for o, g in geometries.items()}
    box = _bounding_box(mask)
    if box is None:
        return counts
    for orientation, geometry in geometries.items():
        window = list(box)
        for axis, (low, high) in zip(geometry.in_plane, geometry.source_ranges, strict=True):
            window[axis] = (max(window[axis][0], low), min(window[axis][1], high))
        if any(low >= high for low, high in window):
            continue
        inside = mask[tuple(slice(low, high) for low, high in window)]
        low, high = window[geometry.axis]
        counts[orientation][low:high] = np.count_nonzero(inside, axis=geometry.in_plane)
    return counts


def region_presence(structures: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Region -> present wherever any of its structures is (structures without a region skipped)."""
    regions: dict[str, np.ndarray] = {}
    for name, present in structures.items():
        region = REGION_OF.get(name)
        if region is None:
            continue
        previous = regions.get(region)
        regions[region] = present.copy() if previous is None else previous | present
    return regions


def to_display(planes: np.ndarray) -> np.ndarray:
    """(n, u, v) planes of a RAS volume -> (n, rows, cols) images in DISPLAY_CONVENTION.

    Both in-plane axes point to patient right/anterior/superior, so rows run along v reversed
    (anterior or superior first) and columns along u reversed (patient right, or anterior, first).
    """
    return planes.transpose(0, 2, 1)[:, ::-1, ::-1]


def _square(planes: torch.Tensor, geometry: PlaneGeometry) -> torch.Tensor:
    """(n, u, v) uint8 planes -> (n, side, side) centred crops with square pixels."""
    (u0, v0), side = geometry.crop_start, geometry.crop_side
    if geometry.grid != geometry.source:
        planes = F.interpolate(
            planes[:, None], size=geometry.grid, mode="bilinear", align_corners=False
        )[:, 0]
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
        crops = _square(stack[start : start + batch], geometry)
        resized = F.interpolate(
            crops[:, None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        out[start : start + len(resized)] = to_display(resized[:, 0].numpy())
    return out


def _intensity(
    scan: str,
    modality: str,
    image: Volume,
    image_path: str,
    study_type: str | None,
    params: SlicingParams,
) -> tuple[np.ndarray, dict]:
    try:
        if modality == "ct":
            center, width = ct_window(study_type)
            info = {"method": "ct_window", "study_type": study_type, "center": center}
            return window_ct(image.data, center, width), {**info, "width": width}
        pixels, bounds = window_mri(image.data, params.mri_percentiles)
    except ValueError as err:
        raise BadScanError(scan, image_path, str(err)) from err
    info = {"method": "mri_percentiles", "percentiles": list(params.mri_percentiles)}
    return pixels, {**info, "bounds": list(bounds)}


def _slice_table(
    modality: str, image_id: str, orientation: str, first: int, last: int, presence: dict
) -> pl.DataFrame:
    n = last - first + 1
    structures = {name: present[first : last + 1] for name, present in presence.items()}
    columns = {
        "modality": [modality] * n,
        "image_id": [image_id] * n,
        "orientation": [orientation] * n,
        "index": np.arange(first, last + 1, dtype=np.int32),
        "array_pos": np.arange(n, dtype=np.int32),
    }
    columns |= {f"{STRUCTURE_PREFIX}{s}": structures[s] for s in sorted(structures)}
    regions = region_presence(structures)
    columns |= {f"{REGION_PREFIX}{r}": regions[r] for r in sorted(regions)}
    return pl.DataFrame(columns)


def slice_scan(
    modality: str,
    image_id: str,
    image_path: str | Path,
    segmentation_dir: str | Path,
    study_type: str | None,
    params: SlicingParams,
) -> SlicedScan:
    """Slice one scan; every problem with its files raises BadScanError naming scan and reason."""
    scan = scan_id(modality, image_id)
    image = load_image(scan, image_path)
    masks = mask_files(scan, segmentation_dir)
    axes = exported_axes(modality, image, params.anisotropy_tolerance_mm)
    geometries = {
        o: plane_geometry(o, a, image.shape, image.spacing, params.anisotropy_tolerance_mm)
        for o, a in axes.items()
    }
    pixels, intensity = _intensity(scan, modality, image, str(image_path), study_type, params)

    presence: dict[str, dict[str, np.ndarray]] = {o: {} for o in geometries}
    mask_checksums = {}
    for name, path in masks.items():
        counts = structure_counts(load_mask(scan, path, image), geometries)
        mask_checksums[name] = sha256_file(path)
        for orientation, per_slice in counts.items():
            presence[orientation][name] = per_slice >= params.presence_min_voxels
    unknown = sorted(set(masks) - set(REGION_OF))
    if unknown:
        log.warning("%s: structures without an anatomical region: %s", scan, ", ".join(unknown))

    slices, tables, layout = {}, [], {}
    for orientation, geometry in geometries.items():
        hits = np.flatnonzero(np.logical_or.reduce(list(presence[orientation].values())))
        if hits.size == 0:
            log.warning(
                "%s: no structure in any %s slice, orientation not stored", scan, orientation
            )
            continue
        first, last = int(hits[0]), int(hits[-1])
        slices[orientation] = render_slices(
            pixels, geometry, first, last, params.size, params.batch_slices
        )
        tables.append(
            _slice_table(modality, image_id, orientation, first, last, presence[orientation])
        )
        layout[orientation] = {**asdict(geometry), "first_index": first, "last_index": last}
        log.info("%s: %s slices %d..%d", scan, orientation, first, last)
    if not slices:
        raise BadScanError(
            scan,
            segmentation_dir,
            f"no structure in any slice: all {len(masks)} masks are empty "
            f"(or below {params.presence_min_voxels} voxel(s) inside the slice crops)",
        )

    attrs = {
        "modality": modality,
        "image_id": image_id,
        "quarantined": False,
        "slicing": params.to_attrs(),
        "intensity": intensity,
        "display": DISPLAY_CONVENTION,
        "presence": f"a structure is present in a slice when its mask has at least "
        f"{params.presence_min_voxels} voxel(s) of the original grid inside the slice's crop",
        "source": {
            "image_path": str(image_path),
            "segmentation_dir": str(segmentation_dir),
            "axcodes": image.source_axcodes,
        },
        "checksums": {"image": sha256_file(image_path), "masks": mask_checksums},
        "canonical_affine": image.affine.tolist(),
        "shape": list(image.shape),
        "spacing": list(image.spacing),
        "structures": sorted(masks),
        "orientations": layout,
    }
    table = pl.concat(tables).sort("orientation", "index")
    return SlicedScan(modality, image_id, slices, table, attrs)


def select_subject(subjects: pl.DataFrame, modality: str, image_id: str) -> pl.DataFrame:
    """The scan's one row of the subject table; BadScanError if absent or marked with a problem."""
    scan = scan_id(modality, image_id)
    row = subjects.filter((pl.col("modality") == modality) & (pl.col("image_id") == image_id))
    if row.height != 1:
        raise BadScanError(scan, None, f"{row.height} rows in the subject table (expected 1)")
    problem = row["problem"][0] if "problem" in row.columns else None
    if problem:
        raise BadScanError(scan, row["image_path"][0], problem)
    return row


def attach_subject(table: pl.DataFrame, subject: pl.DataFrame) -> pl.DataFrame:
    """Slice table with the subject's metadata columns between the keys and the presence."""
    meta = subject.drop(
        [c for c in (*KEY_SCHEMA, *NON_SLICE_SUBJECT_COLUMNS) if c in subject.columns]
    )
    repeated = meta.select(pl.all().gather(np.zeros(table.height, dtype=np.int64)))
    keys = table.select(list(KEY_SCHEMA))
    return pl.concat([keys, repeated, table.drop(list(KEY_SCHEMA))], how="horizontal")


def _shard_length(n_slices: int, size: int) -> int:
    return max(1, min(n_slices, MAX_SHARD_BYTES // (size * size)))


def write_scan(
    sliced: SlicedScan,
    store_path: str | Path,
    table_path: str | Path,
    subject: pl.DataFrame | None = None,
) -> None:
    """Zarr group (one (n, S, S) uint8 array per orientation) + per-slice parquet, atomically."""
    with atomic_output(store_path) as tmp:
        group = zarr.open_group(tmp, mode="w", zarr_format=3)
        group.attrs.update(sliced.attrs)
        for orientation, images in sliced.slices.items():
            n, size, _ = images.shape
            array = group.create_array(
                orientation,
                shape=images.shape,
                dtype="uint8",
                chunks=(1, size, size),
                shards=(_shard_length(n, size), size, size),
            )
            array[:] = images
    table = sliced.table if subject is None else attach_subject(sliced.table, subject)
    metadata = {"slicing": json.dumps(sliced.attrs["slicing"], sort_keys=True)}
    write_parquet(table, table_path, metadata=metadata)


def write_quarantined(
    error: BadScanError,
    modality: str,
    image_id: str,
    params: SlicingParams,
    store_path: str | Path,
    table_path: str | Path,
) -> None:
    """An empty store recording why the scan was skipped, and a slice table with no rows."""
    attrs = {
        "modality": modality,
        "image_id": image_id,
        "quarantined": True,
        "reason": error.reason,
        "path": error.path,
        "slicing": params.to_attrs(),
    }
    with atomic_output(store_path) as tmp:
        zarr.open_group(tmp, mode="w", zarr_format=3).attrs.update(attrs)
    write_parquet(pl.DataFrame(schema=KEY_SCHEMA), table_path)
