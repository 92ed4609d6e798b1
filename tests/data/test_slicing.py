import hashlib

import nibabel as nib
import numpy as np
import polars as pl
import pytest
import torch
import torch.nn.functional as F
import zarr

from sail_core.data.planes import acquisition_axis, plane_geometry, render_slices
from sail_core.data.slicing import SlicingParams, slice_scan, structure_counts, write_scan
from sail_core.data.store import SliceReader, contiguous_runs

AIR, TISSUE, BONE = -1000, 40, 1000


def write_tree(folder, image, affine, masks, modality="ct"):
    """A one-scan folder in TotalSegmentator layout; returns (image_path, segmentation_dir)."""
    segmentations = folder / "segmentations"
    segmentations.mkdir(parents=True)
    image_path = folder / f"{modality}.nii.gz"
    nib.save(nib.Nifti1Image(image, affine), image_path)
    for name, mask in masks.items():
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), segmentations / f"{name}.nii.gz")
    return image_path, segmentations


def head_phantom():
    """RAS volume (30, 36, 40): a tissue box and a bone marker at patient left, anterior, top."""
    image = np.full((30, 36, 40), AIR, np.int16)
    image[4:26, 4:32, 4:36] = TISSUE
    image[4:9, 27:32, 30:35] = BONE
    brain = image == TISSUE
    skull = image == BONE
    return image, np.eye(4), {"brain": brain, "skull": skull}


def as_lps(volume, affine):
    lps = affine.copy()
    lps[:, :2] = -affine[:, :2]
    lps[:3, 3] = affine[:3, :3] @ [volume.shape[0] - 1, volume.shape[1] - 1, 0] + affine[:3, 3]
    return np.ascontiguousarray(volume[::-1, ::-1, :]), lps


def as_permuted(volume, affine):
    return np.ascontiguousarray(volume.transpose(2, 0, 1)), affine[:, [2, 0, 1, 3]]


def slice_stored(tmp_path, store, size=24):
    image, affine, masks = head_phantom()
    stored_image, stored_affine = store(image, affine)
    stored_masks = {name: store(mask, affine)[0] for name, mask in masks.items()}
    paths = write_tree(tmp_path / store.__name__, stored_image, stored_affine, stored_masks)
    return slice_scan("ct", "s0001", *paths, "ct head", SlicingParams(size=size))


def as_ras(volume, affine):
    return volume, affine


@pytest.mark.parametrize("store", [as_lps, as_permuted])
def test_same_anatomy_gives_the_same_slices_whatever_the_storage_order(tmp_path, store):
    reference = slice_stored(tmp_path, as_ras)
    other = slice_stored(tmp_path, store)
    assert set(other.slices) == {"axial", "coronal", "sagittal"}
    for orientation, images in reference.slices.items():
        np.testing.assert_array_equal(other.slices[orientation], images)
    assert other.table.equals(reference.table)


def bright_quadrant(image):
    """(vertical, horizontal) half of the image holding the bone marker."""
    rows, cols = np.nonzero(image == 255)
    height, width = image.shape
    vertical = "top" if rows.mean() < height / 2 else "bottom"
    return vertical, "left" if cols.mean() < width / 2 else "right"


def test_display_convention_is_radiological(tmp_path):
    sliced = slice_stored(tmp_path, as_ras, size=30)
    table = sliced.table
    marker_slice = {"axial": 32, "coronal": 29, "sagittal": 6}
    for orientation, index in marker_slice.items():
        pos = table.filter((pl.col("orientation") == orientation) & (pl.col("index") == index))
        image = sliced.slices[orientation][pos["array_pos"][0]]
        expected = {
            "axial": ("top", "right"),  # anterior up, patient left on the image right
            "coronal": ("top", "right"),  # superior up, patient left on the image right
            "sagittal": ("top", "left"),  # superior up, anterior on the image left
        }[orientation]
        assert bright_quadrant(image) == expected, orientation


def test_plane_geometry_centres_the_square_crop():
    geometry = plane_geometry("axial", 2, (30, 36, 40), (1.0, 1.0, 1.0))
    assert geometry.in_plane == (0, 1)
    assert geometry.grid == geometry.source == (30, 36)
    assert (geometry.crop_start, geometry.crop_side) == ((0, 3), 30)
    assert geometry.source_ranges == ((0, 30), (3, 33))


def test_plane_geometry_resamples_the_coarser_in_plane_axis():
    geometry = plane_geometry("coronal", 1, (40, 10, 20), (0.5, 3.0, 1.0))
    assert geometry.in_plane == (0, 2)
    assert geometry.grid == (40, 40)
    assert geometry.crop_side == 40
    assert geometry.source_ranges == ((0, 40), (0, 20))


def test_render_crops_resizes_and_orients():
    pixels = np.zeros((2, 40, 60), np.uint8)  # slices along axis 0, plane (u=40, v=60)
    pixels[:, 0:20, 30:50] = 255  # inside the crop (v from 10): u in [0, 20), v in [20, 40)
    geometry = plane_geometry("sagittal", 0, pixels.shape, (1.0, 1.0, 1.0))
    images = render_slices(pixels, geometry, 0, 1, size=20, batch=1)
    assert images.shape == (2, 20, 20) and images.dtype == np.uint8
    expected = np.zeros((20, 20), bool)
    expected[0:10, 10:20] = True  # rows = v reversed, columns = u reversed
    np.testing.assert_array_equal(images[0] >= 128, expected)
    np.testing.assert_array_equal(images[0], images[1])
    assert images[0, 2:8, 12:18].min() == 255 and images[0, 12:, :8].max() == 0


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("batch", [1, 6, 64])
def test_rendering_planes_in_groups_equals_one_plane_at_a_time(axis, batch):
    """Bitwise: slices go through the interpolation as channels of one image, in any grouping."""
    pixels = np.random.default_rng(axis).integers(0, 256, (27, 31, 29), dtype=np.uint8)
    spacing = (0.7, 1.0, 1.6)  # anisotropic in every plane: the square-pixel resampling runs too
    geometry = plane_geometry("x", axis, pixels.shape, spacing)
    (u0, v0), side = geometry.crop_start, geometry.crop_side
    first, last = 1, 23  # 23 slices: groups of four and a remainder
    expected = []
    for index in range(first, last + 1):
        plane = torch.from_numpy(np.take(pixels, index, axis=axis).copy())[None, None]
        grid = F.interpolate(plane, size=geometry.grid, mode="bilinear", align_corners=False)
        crop = grid[..., u0 : u0 + side, v0 : v0 + side]
        image = F.interpolate(
            crop, size=(16, 16), mode="bilinear", antialias=True, align_corners=False
        )
        expected.append(image[0, 0].numpy().T[::-1, ::-1])
    images = render_slices(pixels, geometry, first, last, size=16, batch=batch)
    np.testing.assert_array_equal(images, np.stack(expected))


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.float32])
def test_structure_counts_of_a_flipped_view_equal_those_of_its_copy(dtype):
    """Masks stored in another orientation arrive as views with negative strides."""
    rng = np.random.default_rng(1)
    stored = np.zeros((30, 26, 22), dtype)
    stored[4:19, 7:12, 3:9] = rng.random((15, 5, 6)) > 0.5
    stored[2, 20, 15] = 1
    view = stored[::-1, :, ::-1].transpose(1, 0, 2)
    geometries = {
        o: plane_geometry(o, a, view.shape, (1.0, 1.0, 1.0))
        for o, a in (("sagittal", 0), ("coronal", 1), ("axial", 2))
    }
    counts = structure_counts(view, geometries)
    expected = structure_counts(np.ascontiguousarray(view), geometries)
    for orientation in geometries:
        np.testing.assert_array_equal(counts[orientation], expected[orientation])
        assert counts[orientation].sum() > 0
    axial = geometries["axial"]
    (u0, u1), (v0, v1) = axial.source_ranges
    direct = np.count_nonzero(np.ascontiguousarray(view)[u0:u1, v0:v1, :], axis=(0, 1))
    np.testing.assert_array_equal(counts["axial"], direct)


def test_anisotropic_pixels_are_made_square_before_resizing(tmp_path):
    # Axial MRI with 0.5 x 1.0 mm pixels: a disc of radius 8 mm must stay round.
    x, y = np.meshgrid(np.arange(64) * 0.5, np.arange(32) * 1.0, indexing="ij")
    disc = (x - 16) ** 2 + (y - 16) ** 2 <= 8**2
    image = np.repeat(np.where(disc, 500.0, 50.0)[..., None], 6, axis=2).astype(np.float32)
    affine = np.diag([0.5, 1.0, 5.0, 1.0])
    paths = write_tree(tmp_path, image, affine, {"liver": np.repeat(disc[..., None], 6, 2)}, "mri")
    sliced = slice_scan("mri", "s0002", *paths, None, SlicingParams(size=32))
    assert list(sliced.slices) == ["axial"]
    bright = sliced.slices["axial"][3] > 128
    rows, cols = np.nonzero(bright)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert abs(height - width) <= 1 and 14 <= width <= 18


@pytest.mark.parametrize(
    ("shape", "spacing", "axis"),
    [
        ((256, 256, 30), (1.0, 1.0, 4.0), 2),
        ((30, 256, 256), (5.0, 0.9, 0.9), 0),
        ((200, 40, 200), (1.0, 1.0, 1.0), 1),
        ((64, 64, 64), (1.0, 1.0, 1.0), 2),
    ],
)
def test_mri_acquisition_axis(shape, spacing, axis):
    assert acquisition_axis(shape, spacing) == axis


def presence_case(tmp_path, min_voxels):
    image = np.full((20, 30, 20), TISSUE, np.int16)
    liver = np.zeros(image.shape, bool)
    liver[5:8, 10, 5] = True  # 3 voxels in axial slice 5
    liver[5, 10, 6] = True  # 1 voxel in axial slice 6
    liver[5:7, 10, 9] = True  # 2 voxels in axial slice 9
    spleen = np.zeros(image.shape, bool)
    spleen[10, 1, 15] = True  # y=1 lies outside the axial crop (y 5..24), inside the coronal one
    paths = write_tree(tmp_path, image, np.eye(4), {"liver": liver, "spleen": spleen})
    params = SlicingParams(size=16, presence_min_voxels=min_voxels)
    return slice_scan("ct", "s0003", *paths, "ct abdomen", params).table


def column(table, orientation, name):
    rows = table.filter(pl.col("orientation") == orientation).sort("index")
    return dict(zip(rows["index"], rows[name], strict=True))


def test_presence_threshold_and_trimming(tmp_path):
    table = presence_case(tmp_path, min_voxels=2)
    axial = column(table, "axial", "structure_liver")
    # Trimmed to the first..last slice with any structure; empty slices between are kept.
    assert axial == {5: True, 6: False, 7: False, 8: False, 9: True}
    assert column(table, "axial", "structure_spleen") == dict.fromkeys(range(5, 10), False)
    rows = table.filter(pl.col("orientation") == "axial").sort("index")
    assert rows["array_pos"].to_list() == [0, 1, 2, 3, 4]


def test_any_voxel_inside_the_crop_makes_a_structure_present(tmp_path):
    table = presence_case(tmp_path, min_voxels=1)
    assert column(table, "axial", "structure_liver") == {
        5: True, 6: True, 7: False, 8: False, 9: True
    }  # fmt: skip
    assert column(table, "coronal", "structure_spleen")[1] is True
    assert table.schema["index"] == pl.Int32 and table.schema["structure_liver"] == pl.Boolean


def test_region_is_present_when_any_of_its_structures_is(tmp_path):
    image = np.full((10, 10, 10), TISSUE, np.int16)
    upper, lower = np.zeros((2, 10, 10, 10), bool)
    upper[5, 5, 7] = True
    lower[5, 5, 2] = True
    masks = {"lung_upper_lobe_left": upper, "lung_lower_lobe_right": lower}
    paths = write_tree(tmp_path, image, np.eye(4), masks)
    table = slice_scan("ct", "s0004", *paths, "ct thorax", SlicingParams(size=8)).table
    lungs = column(table, "axial", "region_lungs")
    assert lungs == {2: True, 3: False, 4: False, 5: False, 6: False, 7: True}


def test_store_and_table_round_trip_through_the_reader(tmp_path):
    image, affine, masks = head_phantom()
    paths = write_tree(tmp_path / "s0001", image, affine, masks)
    params = SlicingParams(size=16, seed=7)
    sliced = slice_scan("ct", "s0001", *paths, "ct head", params)
    subject = pl.DataFrame(
        {"modality": ["ct"], "image_id": ["s0001"], "age": [61.0], "gender": ["f"]}
        | {"image_path": [str(paths[0])], "segmentation_dir": [str(paths[1])]}
    )
    out = tmp_path / "results" / "slices"
    write_scan(sliced, out / "ct/s0001.zarr", out / "ct/s0001.parquet", subject=subject)

    group = zarr.open_group(out / "ct/s0001.zarr", mode="r")
    for orientation, images in sliced.slices.items():
        array = group[orientation]
        assert array.shape == images.shape and array.chunks == (1, 16, 16)
    attrs = group.attrs.asdict()
    assert attrs["slicing"]["seed"] == 7 and attrs["slicing"]["size"] == 16
    assert attrs["intensity"] == {
        "method": "ct_window", "study_type": "ct head", "center": 40.0, "width": 400.0
    }  # fmt: skip
    assert attrs["checksums"]["image"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert set(attrs["checksums"]["masks"]) == {"brain", "skull"}
    np.testing.assert_allclose(attrs["canonical_affine"], affine)

    table = pl.read_parquet(out / "ct/s0001.parquet")
    assert table.columns[:7] == [
        "modality", "image_id", "orientation", "index", "array_pos", "age", "gender"
    ]  # fmt: skip
    assert "image_path" not in table.columns
    assert table["age"].to_list() == [61.0] * table.height

    rows = table.sample(fraction=1.0, shuffle=True, seed=0)
    read = SliceReader(out, size=16).read(rows)
    expected = [sliced.slices[o][p] for o, p in rows.select("orientation", "array_pos").iter_rows()]
    np.testing.assert_array_equal(read, np.stack(expected))
    assert SliceReader(out, size=16).read(rows.head(0)).shape == (0, 16, 16)
    with pytest.raises(IndexError, match="array_pos"):
        SliceReader(out).read(rows.head(1).with_columns(pl.lit(999).alias("array_pos")))
    with pytest.raises(FileNotFoundError, match="ct/s0009"):
        SliceReader(out).read(rows.head(1).with_columns(pl.lit("s0009").alias("image_id")))


def test_contiguous_runs_merge_small_gaps():
    positions = np.array([0, 1, 2, 5, 20, 21, 40])
    assert list(contiguous_runs(positions, max_gap=2)) == [(0, 6), (20, 22), (40, 41)]
    assert list(contiguous_runs(positions, max_gap=0)) == [(0, 3), (5, 6), (20, 22), (40, 41)]
