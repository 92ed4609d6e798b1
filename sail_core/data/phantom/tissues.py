"""Tissue classes and their intensities: CT Hounsfield units and relative MRI signal.

MRI columns are relative signal (0..1) for the three contrasts the phantom simulates, keyed by the
DICOM scanning-sequence code written to meta.csv: GR (T1-weighted gradient echo: fat bright, fluid
dark), SE (T2-weighted spin echo: fluid bright) and IR (STIR: fat suppressed, fluid bright).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tissue(NamedTuple):
    name: str
    hu: float
    hu_enhanced: float
    gr: float
    se: float
    ir: float


TISSUES: tuple[Tissue, ...] = (
    Tissue("air", -1000, -1000, 0.0, 0.0, 0.0),
    Tissue("fat", -100, -100, 0.95, 0.75, 0.08),
    Tissue("visceral_fat", -90, -90, 0.9, 0.7, 0.08),
    Tissue("soft", 30, 35, 0.4, 0.35, 0.3),
    Tissue("muscle", 45, 55, 0.35, 0.2, 0.2),
    Tissue("lung", -850, -850, 0.03, 0.03, 0.03),
    Tissue("airway", -960, -960, 0.01, 0.01, 0.01),
    Tissue("blood", 40, 180, 0.25, 0.1, 0.1),
    Tissue("liver", 55, 105, 0.5, 0.25, 0.2),
    Tissue("spleen", 45, 115, 0.35, 0.55, 0.5),
    Tissue("kidney", 35, 160, 0.38, 0.6, 0.55),
    Tissue("pancreas", 40, 95, 0.5, 0.4, 0.3),
    Tissue("bile", 10, 10, 0.12, 0.95, 0.9),
    Tissue("stomach", 20, 30, 0.2, 0.7, 0.6),
    Tissue("bowel", 30, 60, 0.3, 0.55, 0.5),
    Tissue("colon", -150, -150, 0.25, 0.4, 0.35),
    Tissue("urine", 8, 8, 0.1, 1.0, 1.0),
    Tissue("prostate", 40, 70, 0.3, 0.6, 0.55),
    Tissue("thyroid", 90, 140, 0.45, 0.5, 0.5),
    Tissue("adrenal", 30, 60, 0.4, 0.45, 0.4),
    Tissue("brain", 32, 35, 0.45, 0.5, 0.45),
    Tissue("csf", 8, 8, 0.1, 1.0, 1.0),
    Tissue("cord", 35, 38, 0.4, 0.5, 0.45),
    Tissue("cartilage", 150, 150, 0.3, 0.5, 0.45),
    Tissue("disc", 80, 80, 0.3, 0.8, 0.7),
    Tissue("marrow", 300, 310, 0.75, 0.55, 0.1),
    Tissue("cortical", 1100, 1100, 0.05, 0.03, 0.02),
    Tissue("cyst", 5, 5, 0.08, 1.0, 1.0),
    Tissue("tumor", 30, 60, 0.3, 0.7, 0.8),
    Tissue("inflammation", 60, 110, 0.35, 0.75, 0.9),
    Tissue("hematoma", 70, 70, 0.55, 0.4, 0.6),
    Tissue("sclerosis", 900, 900, 0.05, 0.05, 0.05),
)
TISSUE_ID: dict[str, int] = {tissue.name: index for index, tissue in enumerate(TISSUES)}
MRI_SEQUENCES = ("GR", "SE", "IR")


def ct_table(enhanced: bool) -> np.ndarray:
    """Hounsfield units per tissue id, portal-venous contrast phase when `enhanced`."""
    return np.array([t.hu_enhanced if enhanced else t.hu for t in TISSUES], dtype=np.float32)


def mri_table(sequence: str) -> np.ndarray:
    """Relative signal per tissue id for a scanning-sequence code of MRI_SEQUENCES."""
    if sequence not in MRI_SEQUENCES:
        raise ValueError(
            f"unknown MRI scanning sequence {sequence!r}; expected one of {MRI_SEQUENCES}"
        )
    return np.array([getattr(t, sequence.lower()) for t in TISSUES], dtype=np.float32)
