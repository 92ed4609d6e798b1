"""Intensity to uint8: CT windows by study type, MRI by robust percentiles.

CT uses the study's fixed table of 38 (center, width) windows in HU keyed by the normalised study
type. Unlike the study, the window bounds themselves map to 0 and 255, so a volume that never
reaches a bound is not stretched by its own min and max, and values are rounded, not truncated.
"""

from __future__ import annotations

import numpy as np

from sail_core.data.dataset import normalise_study_type

__all__ = ["CT_WINDOWS", "ct_window", "normalise_study_type", "window_ct", "window_mri"]

_BODY = (-100.0, 1400.0)
_THORAX = (-200.0, 1400.0)
_SOFT_TISSUE = (50.0, 1000.0)
_POLYTRAUMA = (-50.0, 1400.0)
_BRAIN = (40.0, 400.0)
_SKULL_BASE = (120.0, 1200.0)
_ANGIOGRAPHY = (120.0, 1000.0)
_ANGIOGRAPHY_HEAD_NECK = (100.0, 900.0)
_CARDIAC = (120.0, 1000.0)
_BONE = (200.0, 2000.0)

CT_WINDOWS: dict[str, tuple[float, float]] = {
    "ct thorax-abdomen-pelvis": _BODY,
    "ct neck-thorax-abdomen-pelvis": _BODY,
    "ct thorax-abdomen": _BODY,
    "ct abdomen-pelvis": _SOFT_TISSUE,
    "ct thorax-neck": _THORAX,
    "ct polytrauma": _POLYTRAUMA,
    "ct whole body": _POLYTRAUMA,
    "ct pelvis": (80.0, 1400.0),
    "ct thorax-chest": _THORAX,
    "ct thorax": _THORAX,
    "ct chest": _THORAX,
    "ct abdomen": _SOFT_TISSUE,
    "ct neck": _SOFT_TISSUE,
    "ct head": _BRAIN,
    "ct polytrauma head": _BRAIN,
    "ct orbita": (60.0, 1000.0),
    "ct headbasis-felsenleg": _SKULL_BASE,
    "ct gesichtshead": _SKULL_BASE,
    "ct angiography neck-thx-abd-pelvis-leg": _ANGIOGRAPHY,
    "ct angiography pelvis-leg": _ANGIOGRAPHY,
    "ct angiography thorax-abdomen-pelvis": _ANGIOGRAPHY,
    "ct angiography abdomen-pelvis-leg": _ANGIOGRAPHY,
    "ct angiography abdomen-pelvis": _ANGIOGRAPHY,
    "ct angiography head": _ANGIOGRAPHY_HEAD_NECK,
    "ct angiography thorax": (100.0, 1000.0),
    "ct angiography neck": _ANGIOGRAPHY_HEAD_NECK,
    "ct heart-thorakale aorta": _CARDIAC,
    "ct aortic valve": _CARDIAC,
    "ct heart": _CARDIAC,
    "ct left artrium": _CARDIAC,
    "ct coronary arteries": _CARDIAC,
    "ct spine": _BONE,
    "ct upper leg left": _BONE,
    "ct hip right": _BONE,
    "ct upper limb both": _BONE,
    "ct lower limb left": _BONE,
    "ct intervention": _SOFT_TISSUE,
    "ct operation": _SOFT_TISSUE,
}


def ct_window(study_type: str | None) -> tuple[float, float]:
    """(center, width) in HU for a study type; ValueError naming it when the table lacks it."""
    key = normalise_study_type(study_type)
    if key not in CT_WINDOWS:
        raise ValueError(
            f"unknown CT study type {study_type!r} (normalised {key!r}); "
            f"the window table has {len(CT_WINDOWS)} types, e.g. 'ct head', 'ct thorax'"
        )
    return CT_WINDOWS[key]


def _scale_to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = values.astype(np.float32)
    np.clip(scaled, low, high, out=scaled)
    scaled -= np.float32(low)
    scaled *= np.float32(255.0 / (high - low))
    return np.rint(scaled, out=scaled).astype(np.uint8)


def _to_uint8(volume: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linear map of [low, high] onto 0..255 with clipping and rounding."""
    if volume.dtype.kind in "iu" and volume.dtype.itemsize <= 2:
        # Every representable value fits in a lookup table: one gather instead of float passes.
        unsigned = np.dtype(f"u{volume.dtype.itemsize}")
        every_value = np.arange(2 ** (8 * unsigned.itemsize), dtype=unsigned).view(volume.dtype)
        return _scale_to_uint8(every_value, low, high)[volume.view(unsigned)]
    return _scale_to_uint8(volume, low, high)


def window_ct(volume: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map [center - width/2, center + width/2] HU linearly onto 0..255, rounding."""
    if width <= 0:
        raise ValueError(f"CT window width must be positive, got {width}")
    return _to_uint8(volume, center - width / 2, center + width / 2)


def window_mri(
    volume: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)
) -> tuple[np.ndarray, tuple[float, float]]:
    """Map the given percentiles of the non-zero voxels onto 0..255; returns (uint8, bounds)."""
    foreground = volume[volume != 0]
    if foreground.size == 0:
        raise ValueError("MRI volume has no non-zero voxel")
    low, high = (float(v) for v in np.percentile(foreground, percentiles))
    if high <= low:
        raise ValueError(
            f"MRI percentiles {percentiles} of the non-zero voxels coincide ({low}): no contrast"
        )
    return _to_uint8(volume, low, high), (low, high)
