"""Write phantom scans in the TotalSegmentator layout, byte-reproducibly."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from sail_core.io import atomic_output

_RAS = ("R", "A", "S")


def reorient(
    array: np.ndarray, affine: np.ndarray, axcodes: tuple[str, str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """The same volume stored with array axes pointing along `axcodes` (e.g. ("L", "P", "S"))."""
    transform = ornt_transform(axcodes2ornt(_RAS), axcodes2ornt(axcodes))
    stored = np.ascontiguousarray(apply_orientation(array, transform))
    return stored, affine @ inv_ornt_aff(transform, array.shape)


def nifti_gz(array: np.ndarray, affine: np.ndarray) -> bytes:
    """A gzipped NIfTI-1 file with scanner qform/sform; gzip mtime 0 keeps the bytes reproducible
    and level 1 (nibabel's default for .nii.gz) keeps writing fast."""
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    return gzip.compress(image.to_bytes(), compresslevel=1, mtime=0)


def write_scan(
    folder: Path,
    image_name: str,
    image: np.ndarray,
    masks: dict[str, np.ndarray],
    affine: np.ndarray,
) -> None:
    """`folder/image_name` and `folder/segmentations/<structure>.nii.gz`, all sharing `affine`;
    the folder appears complete or not at all."""
    empty_mask = None  # most masks of a scan are empty and identical: compress that file once
    with atomic_output(folder) as tmp:
        (tmp / "segmentations").mkdir(parents=True)
        (tmp / image_name).write_bytes(nifti_gz(image, affine))
        for name, mask in masks.items():
            if mask.any():
                data = nifti_gz(mask, affine)
            else:
                empty_mask = empty_mask or nifti_gz(mask, affine)
                data = empty_mask
            (tmp / "segmentations" / f"{name}.nii.gz").write_bytes(data)


def write_meta_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Semicolon-separated, UTF-8 with a byte-order mark, as TotalSegmentator's meta.csv."""
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=columns, delimiter=";", lineterminator="\n", extrasaction="raise"
    )
    writer.writeheader()
    writer.writerows(rows)
    with atomic_output(path) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8-sig")
