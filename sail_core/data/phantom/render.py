"""Rasterise body parts on a grid and turn tissues into CT or MRI intensities."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from sail_core.data.phantom.body import LABEL_ID
from sail_core.data.phantom.frame import Part
from sail_core.data.phantom.shapes import Grid
from sail_core.data.phantom.tissues import TISSUE_ID, ct_table, mri_table

_RIM_FROM = 0.7  # normalised depth where a bone's cortex begins
_PARTIAL_VOLUME_SIGMA = 0.6  # voxels; softens tissue borders as a real scanner's point spread


def rasterise(parts: list[Part], grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Label map (LABEL_ID values) and tissue map (TISSUE_ID values, air where nothing is)."""
    labels = np.zeros(grid.shape, dtype=np.uint8)
    tissues = np.full(grid.shape, TISSUE_ID["air"], dtype=np.uint8)
    for part in parts:
        box = grid.box(*part.shape.bounds())
        if box is None:
            continue
        depth = part.shape.depth(*grid.coordinates(box))
        inside = depth <= 1
        tissues[box][inside] = TISSUE_ID[part.tissue]
        if part.rim_tissue:
            tissues[box][inside & (depth > _RIM_FROM)] = TISSUE_ID[part.rim_tissue]
        if part.structure:
            labels[box][inside] = LABEL_ID[part.structure]
    return labels, tissues


def ct_image(
    tissues: np.ndarray, rng: np.random.Generator, enhanced: bool, noise_hu: float
) -> np.ndarray:
    """Hounsfield units as int16 with partial volume and Gaussian noise."""
    hu = gaussian_filter(ct_table(enhanced)[tissues], _PARTIAL_VOLUME_SIGMA)
    hu += noise_hu * rng.standard_normal(hu.shape, dtype=np.float32)
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def mri_image(
    tissues: np.ndarray, rng: np.random.Generator, sequence: str, gain: float
) -> np.ndarray:
    """Magnitude signal as int16: sequence contrast, a smooth receive-coil bias field and Rician
    noise (the magnitude of complex Gaussian noise), so the background is small but positive."""
    signal = gaussian_filter(gain * mri_table(sequence)[tissues], _PARTIAL_VOLUME_SIGMA)
    signal *= _bias_field(tissues.shape, rng)
    noise_sd = 0.02 * gain
    real = signal + noise_sd * rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary = noise_sd * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.clip(np.rint(np.hypot(real, imaginary)), 0, np.iinfo(np.int16).max).astype(np.int16)


def _bias_field(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """exp of a random linear-plus-quadratic function of the normalised voxel position."""
    slope, curvature = rng.normal(0.0, 0.15, 3), rng.normal(0.0, 0.1)
    exponent = np.zeros(shape, dtype=np.float32)
    for dim, size in enumerate(shape):
        u = np.linspace(-1.0, 1.0, size, dtype=np.float32).reshape(
            [-1 if d == dim else 1 for d in range(3)]
        )
        exponent = exponent + slope[dim] * u + curvature * u * u
    return np.exp(exponent)
