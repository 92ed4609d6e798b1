import gzip
import hashlib
import zlib

import nibabel as nib
import numpy as np
import pytest

from sail_core.data import volume
from sail_core.data.errors import BadScanError
from sail_core.data.volume import (
    load_image,
    load_mask,
    mask_files,
    plane_axes,
)

SCAN = "ct/s0001"
SPACING = (0.8, 1.0, 2.5)


def ras_volume():
    rng = np.random.default_rng(0)
    data = rng.integers(-1000, 1000, size=(6, 7, 8), dtype=np.int16)
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-10.0, 20.0, 30.0)
    return data, affine


def as_lps(data, affine):
    """Same voxels stored with the first two axes reversed (x to the left, y to the posterior)."""
    flipped = data[::-1, ::-1, :]
    lps = affine.copy()
    lps[:, :2] = -affine[:, :2]
    lps[:3, 3] = affine[:3, :3] @ [data.shape[0] - 1, data.shape[1] - 1, 0] + affine[:3, 3]
    return np.ascontiguousarray(flipped), lps


def as_permuted(data, affine):
    """Same voxels stored with axes (z, x, y): stored index (k, i, j) is RAS voxel (i, j, k)."""
    return np.ascontiguousarray(data.transpose(2, 0, 1)), affine[:, [2, 0, 1, 3]]


def save(path, data, affine):
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


@pytest.mark.parametrize("store", [as_lps, as_permuted])
def test_any_storage_order_loads_to_the_same_canonical_volume(tmp_path, store):
    data, affine = ras_volume()
    reference = load_image(SCAN, save(tmp_path / "ras.nii.gz", data, affine))
    other = load_image(SCAN, save(tmp_path / "other.nii.gz", *store(data, affine)))
    assert reference.source_axcodes == "RAS"
    assert other.source_axcodes != "RAS"
    np.testing.assert_array_equal(other.data, reference.data)
    np.testing.assert_allclose(other.affine, reference.affine, atol=1e-5)
    assert other.data.dtype == np.int16
    assert other.spacing == pytest.approx(SPACING)


def test_plane_names_come_from_the_affine():
    data, affine = ras_volume()
    assert plane_axes(affine) == {"sagittal": 0, "coronal": 1, "axial": 2}
    assert plane_axes(as_lps(data, affine)[1]) == {"sagittal": 0, "coronal": 1, "axial": 2}
    assert plane_axes(as_permuted(data, affine)[1]) == {"axial": 0, "sagittal": 1, "coronal": 2}


def test_mask_follows_the_image_into_the_canonical_frame_keeping_its_dtype(tmp_path):
    data, affine = ras_volume()
    image = load_image(SCAN, save(tmp_path / "ct.nii.gz", data, affine))
    mask = np.zeros(data.shape, np.uint8)
    mask[1, 2, 3] = 1
    stored, stored_affine = as_permuted(mask, affine)
    loaded = load_mask(SCAN, save(tmp_path / "liver.nii.gz", stored, stored_affine), image).data
    assert loaded.dtype == np.uint8
    assert list(zip(*np.nonzero(loaded), strict=True)) == [(1, 2, 3)]


def test_trailing_singleton_axis_is_accepted(tmp_path):
    data, affine = ras_volume()
    image = load_image(SCAN, save(tmp_path / "ct.nii.gz", data[..., None], affine))
    assert image.shape == data.shape


def scaled(data, affine):
    image = nib.Nifti1Image(data, affine)
    image.header.set_slope_inter(0.5, -1024.0)
    return image


def big_endian(data, affine):
    return nib.Nifti1Image(data.astype(">i2"), affine)


def nifti2(data, affine):
    return nib.Nifti2Image(data.astype(np.float32), affine)


def two_gzip_members(path, image):
    """One file of two concatenated gzip members (as written by block-gzip tools)."""
    content = image.to_bytes()
    path.write_bytes(gzip.compress(content[:500]) + gzip.compress(content[500:]))


@pytest.mark.parametrize(
    ("name", "make_image", "write"),
    [
        ("int16.nii.gz", nib.Nifti1Image, nib.save),
        ("uint8.nii.gz", lambda d, a: nib.Nifti1Image((d % 7).astype(np.uint8), a), nib.save),
        ("scaled.nii.gz", scaled, nib.save),
        ("big_endian.nii.gz", big_endian, nib.save),
        ("nifti2.nii.gz", nifti2, nib.save),
        ("uncompressed.nii", nib.Nifti1Image, nib.save),
        ("two_members.nii.gz", nib.Nifti1Image, lambda image, path: two_gzip_members(path, image)),
    ],
)
def test_voxels_and_affine_are_those_nibabel_reads(tmp_path, name, make_image, write):
    data, affine = ras_volume()
    path = tmp_path / name
    write(make_image(data, affine), path)
    expected = nib.load(path)
    voxels = np.asanyarray(expected.dataobj)
    image = load_image(SCAN, path)
    np.testing.assert_array_equal(image.data, voxels)
    assert image.data.dtype == voxels.dtype
    np.testing.assert_array_equal(image.affine, expected.affine)


def test_mask_files_are_sorted_by_structure_name(tmp_path):
    folder = tmp_path / "segmentations"
    folder.mkdir()
    for name in ("spleen", "liver", "aorta"):
        (folder / f"{name}.nii.gz").write_bytes(b"")
    (folder / "notes.txt").write_text("not a mask")
    assert list(mask_files(SCAN, folder)) == ["aorta", "liver", "spleen"]


def test_missing_or_empty_segmentation_folder_is_a_bad_scan(tmp_path):
    with pytest.raises(BadScanError, match="does not exist"):
        mask_files(SCAN, tmp_path / "absent")
    with pytest.raises(BadScanError, match="no .nii.gz mask"):
        mask_files(SCAN, tmp_path)


def test_volumes_carry_the_sha256_of_their_file(tmp_path):
    data, affine = ras_volume()
    image_path = save(tmp_path / "ct.nii.gz", data, affine)
    mask_path = save(tmp_path / "liver.nii.gz", (data > 0).astype(np.uint8), affine)
    image = load_image(SCAN, image_path)
    mask = load_mask(SCAN, mask_path, image)
    assert image.sha256 == hashlib.sha256(image_path.read_bytes()).hexdigest()
    assert mask.sha256 == hashlib.sha256(mask_path.read_bytes()).hexdigest()


def test_truncated_uncompressed_nifti_is_a_bad_scan(tmp_path):
    data, affine = ras_volume()
    path = save(tmp_path / "ct.nii", data, affine)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(BadScanError, match="unreadable NIfTI"):
        load_image(SCAN, path)


def test_a_gzip_trailer_claiming_gigabytes_is_a_bad_scan(tmp_path, monkeypatch):
    data, affine = ras_volume()
    path = save(tmp_path / "ct.nii.gz", data, affine)
    path.write_bytes(path.read_bytes()[:-4] + (2**32 - 1).to_bytes(4, "little"))
    buffers, real_decompress = [], zlib.decompress

    def decompress(compressed, wbits, bufsize):
        buffers.append(bufsize)
        return real_decompress(compressed, wbits, bufsize)

    monkeypatch.setattr(volume.zlib, "decompress", decompress)
    with pytest.raises(BadScanError, match="unreadable"):
        load_image(SCAN, path)
    assert buffers and max(buffers) <= volume.MAX_DEFLATE_RATIO * path.stat().st_size
