"""One scan -> square uint8 slices per anatomical orientation, with per-slice structure presence.

Steps: reorient to canonical RAS (volume.py); window to uint8 (windowing.py); per exported
orientation, count every mask's voxels inside the slice crop per slice, keep the slices from the
first to the last one with any structure and render them as square display images (planes.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl
import zarr

from sail_core.columns import REGION_PREFIX, STRUCTURE_PREFIX, scan_id
from sail_core.data.anatomy import REGION_OF
from sail_core.data.errors import BadScanError
from sail_core.data.planes import (
    DISPLAY_CONVENTION,
    PlaneGeometry,
    exported_axes,
    plane_geometry,
    render_slices,
)
from sail_core.data.volume import Volume, load_image, load_mask, mask_files
from sail_core.data.windowing import ct_window, window_ct, window_mri
from sail_core.io import atomic_output, write_parquet

log = logging.getLogger(__name__)

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


@dataclass
class SlicedScan:
    modality: str
    image_id: str
    slices: dict[str, np.ndarray]
    table: pl.DataFrame
    attrs: dict


def _bounding_box(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """Half-open index range of the non-zero voxels along each axis; None for an empty mask.

    The reductions run on the mask's memory order (a mask stored flipped is a view with negative
    strides, on which they run ten times slower) and OR integers without casting them to bool.
    """
    if mask.dtype.kind not in "biu":
        mask = mask != 0
    flipped = [stride < 0 for stride in mask.strides]
    stored = mask[tuple(slice(None, None, -1 if f else 1) for f in flipped)]
    footprint = np.bitwise_or.reduce(stored, axis=2)
    xs = np.flatnonzero(footprint.any(axis=1))
    if xs.size == 0:
        return None
    ys = np.flatnonzero(footprint.any(axis=0))
    zs = np.flatnonzero(np.bitwise_or.reduce(stored, axis=(0, 1)))
    box = [(int(i[0]), int(i[-1]) + 1) for i in (xs, ys, zs)]
    return [
        (n - high, n - low) if f else (low, high)
        for (low, high), n, f in zip(box, mask.shape, flipped, strict=True)
    ]


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
        mask = load_mask(scan, path, image)
        counts = structure_counts(mask.data, geometries)
        mask_checksums[name] = mask.sha256
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
        "checksums": {"image": image.sha256, "masks": mask_checksums},
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
        # attributes given at creation: attrs.update would rewrite the group's metadata per key
        group = zarr.open_group(tmp, mode="w", zarr_format=3, attributes=sliced.attrs)
        for orientation, images in sliced.slices.items():
            n, size, _ = images.shape
            shard = _shard_length(n, size)
            # zarr hands every chunk to a worker thread to compress it; one chunk at a time (its
            # default batch) these hand-offs cost several times the compression itself.
            with zarr.config.set({"codec_pipeline.batch_size": shard}):
                array = group.create_array(
                    orientation,
                    shape=images.shape,
                    dtype="uint8",
                    chunks=(1, size, size),
                    shards=(shard, size, size),
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
        zarr.open_group(tmp, mode="w", zarr_format=3, attributes=attrs)
    write_parquet(pl.DataFrame(schema=KEY_SCHEMA), table_path)
