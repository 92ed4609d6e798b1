"""What a labeller or judge sees of a feature: slices with their non-identifying metadata.

Only modality, orientation, sex, age, anatomy (structures grouped into regions), the pathology
when it says something, and the activation are kept. Scan ids, institutes, scanners and paths
never leave this module.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from PIL import Image

from sail_core.label.terms import present_structures, regions_of

_UNINFORMATIVE_PATHOLOGY = {"", "none", "no_pathology", "nan", "null", "unknown", "n/a"}

SLICE_READ_COLUMNS = ("modality", "image_id", "orientation", "array_pos")


@dataclass(frozen=True)
class SampleMeta:
    modality: str
    orientation: str
    sex: str | None
    age: float | None
    regions: tuple[tuple[str, int], ...]
    pathology: str | None
    activation: float
    structures: frozenset[str] = frozenset()

    @property
    def region_names(self) -> frozenset[str]:
        return frozenset(region for region, _ in self.regions)


@dataclass(frozen=True)
class FeatureEvidence:
    feature: int
    samples: tuple[SampleMeta, ...]
    images: tuple[bytes, ...] = ()


def informative_pathology(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _UNINFORMATIVE_PATHOLOGY else text


def sample_meta(row: Mapping[str, object], activation: float) -> SampleMeta:
    """The metadata of one slice-index row that may be shown to a model."""
    structures = present_structures(row)
    counts = regions_of(structures)
    regions = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    age = row.get("age")
    return SampleMeta(
        modality=str(row["modality"]),
        orientation=str(row["orientation"]),
        sex=row.get("gender") or None,
        age=None if age is None or np.isnan(age) else float(age),
        regions=regions,
        pathology=informative_pathology(row.get("pathology")),
        activation=float(activation),
        structures=structures,
    )


def png_bytes(pixels: np.ndarray, size: int | None) -> bytes:
    """A grey slice as PNG, resized to `size` x `size` when given (small slices are unreadable)."""
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L")
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


SliceImageReader = Callable[[pl.DataFrame], np.ndarray]


def build_evidence(
    picks: pl.DataFrame,
    index: pl.DataFrame,
    read_slices: SliceImageReader | None,
    image_size: int | None,
) -> list[FeatureEvidence]:
    """One FeatureEvidence per feature of `picks` (feature, row_id, activation; in show order).

    Images are read only when `read_slices` is given (the offline labeller needs none).
    """
    if picks.is_empty():
        return []
    rows = picks.with_row_index("position").join(
        index, on="row_id", how="left", validate="m:1", maintain_order="left"
    )
    missing = rows.filter(pl.col("modality").is_null())
    if missing.height:
        raise ValueError(f"row ids not in the slice index: {missing['row_id'].head(5).to_list()}")
    pixels = read_slices(rows.select(SLICE_READ_COLUMNS)) if read_slices is not None else None
    evidence = []
    for (feature,), group in rows.group_by("feature", maintain_order=True):
        samples = tuple(sample_meta(row, row["activation"]) for row in group.iter_rows(named=True))
        images = ()
        if pixels is not None:
            images = tuple(png_bytes(pixels[i], image_size) for i in group["position"])
        evidence.append(FeatureEvidence(int(feature), samples, images))
    return evidence
