"""Synthetic CT and/or MRI datasets in the TotalSegmentator layout, with plausible anatomy."""

from sail_core.data.phantom.fov import CT_STUDIES, MRI_STUDIES, PhantomSizes
from sail_core.data.phantom.generate import generate_phantom, phantom_plan
from sail_core.data.phantom.scan import PhantomScan, ct_scan, mri_scan

__all__ = [
    "CT_STUDIES",
    "MRI_STUDIES",
    "PhantomScan",
    "PhantomSizes",
    "ct_scan",
    "generate_phantom",
    "mri_scan",
    "phantom_plan",
]
