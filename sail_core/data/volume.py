"""NIfTI images and masks in the canonical RAS frame, with errors that name the scan and file.

Every volume is reoriented to nibabel's closest canonical frame (array axes pointing to patient
Right, Anterior, Superior) by flips and transposes of the stored integers, so CT HU and mask labels
keep their dtype. The anatomical plane of each array axis is then read from the affine.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError

from sail_core.data.errors import BadScanError

MASK_SUFFIX = ".nii.gz"
GZIP_MAGIC = b"\x1f\x8b"
NIFTI_BY_HEADER_SIZE = {348: nib.Nifti1Image, 540: nib.Nifti2Image}
AFFINE_TOLERANCE_MM = 1e-3
# The plane a slice lies in is named after the axis it is perpendicular to.
PLANE_OF_AXIS_CODE = {
    "R": "sagittal",
    "L": "sagittal",
    "A": "coronal",
    "P": "coronal",
    "S": "axial",
    "I": "axial",
}

MAX_DEFLATE_RATIO = 1032


@dataclass(frozen=True)
class Volume:
    data: np.ndarray
    affine: np.ndarray
    source_axcodes: str
    sha256: str  # of the file as stored

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.data.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along each array axis."""
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))


def gunzip(compressed: bytes) -> bytes:
    """The content of a gzip file, decompressed by one zlib call into a buffer sized from the
    trailer's length field (nibabel's streamed read takes about 1.5x as long). A file of several
    gzip members, whose trailer holds only the last member's length, goes through gzip instead."""
    length = int.from_bytes(compressed[-4:], "little")
    # deflate expands at most about 1032-fold, so a corrupt trailer cannot reserve more
    bufsize = max(1, min(length, MAX_DEFLATE_RATIO * len(compressed)))
    content = zlib.decompress(compressed, wbits=31, bufsize=bufsize)
    if len(content) % 2**32 != length:
        return gzip.decompress(compressed)
    return content


def _nifti(content: bytes) -> nib.Nifti1Image | nib.Nifti2Image:
    for byteorder in ("little", "big"):
        image_class = NIFTI_BY_HEADER_SIZE.get(int.from_bytes(content[:4], byteorder))
        if image_class is not None:
            return image_class.from_bytes(content)
    raise ImageFileError("not a NIfTI-1 or NIfTI-2 header")


def _voxels(image: nib.Nifti1Image | nib.Nifti2Image, content: bytes) -> np.ndarray:
    """The voxel array nibabel would read, but as a read-only view of `content` (nibabel copies
    it) unless the header scales the values, which nibabel then applies."""
    proxy = image.dataobj
    if proxy.slope != 1 or proxy.inter != 0:
        return np.asanyarray(proxy)
    return np.ndarray(
        proxy.shape, proxy.dtype, buffer=content, offset=proxy.offset, order=proxy.order
    )


def _read(scan: str, path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """The stored voxel array (no float conversion unless the file scales), its affine and the
    file's SHA-256 (taken from the bytes read, so the file is read once)."""
    if not path.is_file():
        raise BadScanError(scan, path, "file does not exist")
    try:
        content = path.read_bytes()
        sha256 = hashlib.sha256(content).hexdigest()
        if content[:2] == GZIP_MAGIC:
            content = gunzip(content)
        image = _nifti(content)
        data = _voxels(image, content)
    except (OSError, EOFError, TypeError, ValueError, zlib.error, ImageFileError) as err:
        raise BadScanError(scan, path, f"unreadable NIfTI ({type(err).__name__}: {err})") from err
    if data.ndim > 3 and all(n == 1 for n in data.shape[3:]):
        data = data.reshape(data.shape[:3])
    if data.ndim != 3:
        raise BadScanError(scan, path, f"expected a 3-D volume, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise BadScanError(scan, path, f"{bad} NaN or infinite voxel(s)")
    if not np.isfinite(image.affine).all() or abs(np.linalg.det(image.affine[:3, :3])) < 1e-9:
        raise BadScanError(scan, path, f"affine is not a valid voxel-to-mm map:\n{image.affine}")
    return data, image.affine, sha256


def _canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    orientation = nib.io_orientation(affine)
    canonical = nib.apply_orientation(data, orientation)
    return canonical, affine @ nib.orientations.inv_ornt_aff(orientation, data.shape)


def load_image(scan: str, path: str | os.PathLike) -> Volume:
    """The scan's image in canonical RAS order, with its canonical affine."""
    path = Path(path)
    data, affine, sha256 = _read(scan, path)
    canonical, canonical_affine = _canonical(data, affine)
    return Volume(canonical, canonical_affine, "".join(nib.aff2axcodes(affine)), sha256)


def load_mask(scan: str, path: str | os.PathLike, image: Volume) -> Volume:
    """A mask in canonical RAS order, stored dtype kept (non-zero = inside), on the image's grid."""
    path = Path(path)
    data, affine, sha256 = _read(scan, path)
    canonical, canonical_affine = _canonical(data, affine)
    if canonical.shape != image.shape:
        raise BadScanError(
            scan, path, f"mask shape {canonical.shape} differs from image shape {image.shape}"
        )
    if not np.allclose(canonical_affine, image.affine, atol=AFFINE_TOLERANCE_MM):
        raise BadScanError(
            scan,
            path,
            "mask affine differs from the image affine:\n"
            f"{np.round(canonical_affine, 4)}\nvs\n{np.round(image.affine, 4)}",
        )
    return Volume(canonical, canonical_affine, "".join(nib.aff2axcodes(affine)), sha256)


def mask_files(scan: str, segmentation_dir: str | os.PathLike) -> dict[str, Path]:
    """Structure name -> mask file, sorted by name."""
    folder = Path(segmentation_dir)
    if not folder.is_dir():
        raise BadScanError(scan, folder, "segmentation folder does not exist")
    files = sorted(folder.glob(f"*{MASK_SUFFIX}"))
    if not files:
        raise BadScanError(scan, folder, f"no {MASK_SUFFIX} mask in the segmentation folder")
    return {f.name.removesuffix(MASK_SUFFIX): f for f in files}


def plane_axes(affine: np.ndarray) -> dict[str, int]:
    """Orientation name -> the array axis its slices are taken along, read from the affine."""
    codes = nib.aff2axcodes(affine)
    return {PLANE_OF_AXIS_CODE[code]: axis for axis, code in enumerate(codes)}
