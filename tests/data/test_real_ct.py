"""Slicing a real head CT: the brain atlas CT shipped with the totalsegmentator package.

The file is skull-stripped (values -30..385 HU: brain, CSF and a few calcified voxels at the skull
base), so the closed ring checked here is the brain parenchyma around the ventricles rather than
the skull. Every property is read from the stored uint8 images, independently of the slicing code.
"""

import importlib.resources
import shutil

import nibabel as nib
import numpy as np
import polars as pl
import pytest
from scipy import ndimage

from sail_core.data.slicing import SlicingParams, slice_scan

SIZE = 128
TISSUE_LEVEL = 110  # about 12 HU in the 'ct head' window (40 / 400): brain above, CSF below
ATLAS = importlib.resources.files("totalsegmentator") / "resources" / "ct_brain_atlas_1mm.nii.gz"


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    folder = tmp_path_factory.mktemp("CT_Dataset") / "s0001"
    (folder / "segmentations").mkdir(parents=True)
    shutil.copyfile(ATLAS, folder / "ct.nii.gz")
    image = nib.load(folder / "ct.nii.gz")
    hu = np.asanyarray(image.dataobj)
    brain = ndimage.binary_fill_holes(hu > 15)
    masks = {"brain": brain, "skull": hu > 300}
    for name, mask in masks.items():
        nifti = nib.Nifti1Image(mask.astype(np.uint8), image.affine)
        nib.save(nifti, folder / "segmentations" / f"{name}.nii.gz")
    sliced = slice_scan(
        "ct", "s0001", folder / "ct.nii.gz", folder / "segmentations", "ct head",
        SlicingParams(size=SIZE),
    )  # fmt: skip
    return sliced, masks


def middle(sliced, orientation, fraction=0.5):
    images = sliced.slices[orientation]
    return images[int(len(images) * fraction)]


def head_box(image):
    rows, cols = np.nonzero(image > TISSUE_LEVEL)
    return image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def mirror_correlation(image, flip):
    box = head_box(image).astype(float)
    return np.corrcoef(box.ravel(), np.flip(box, axis=flip).ravel())[0, 1]


def test_tissue_ring_around_the_ventricles_is_closed(head):
    sliced, _ = head
    tissue = middle(sliced, "axial") > TISSUE_LEVEL
    labels, _ = ndimage.label(~tissue)
    outside = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    rows, cols = np.nonzero(tissue)
    row, col = int(rows.mean()), int(cols.mean())
    centre = np.s_[row - 20 : row + 20, col - 20 : col + 20]
    ventricles = ~tissue[centre]
    assert ventricles.sum() > 20
    assert not np.isin(labels[centre][ventricles], list(outside)).any()


@pytest.mark.parametrize("fraction", [0.4, 0.5, 0.6])
def test_axial_and_coronal_slices_mirror_left_right_sagittal_do_not(head, fraction):
    sliced, _ = head
    axial = middle(sliced, "axial", fraction)
    coronal = middle(sliced, "coronal", fraction)
    sagittal = middle(sliced, "sagittal", fraction)
    assert mirror_correlation(axial, flip=1) > 0.85
    assert mirror_correlation(axial, flip=1) > mirror_correlation(axial, flip=0) + 0.1
    assert mirror_correlation(coronal, flip=1) > 0.75
    assert mirror_correlation(coronal, flip=1) > mirror_correlation(coronal, flip=0) + 0.2
    assert mirror_correlation(sagittal, flip=1) < 0.7


def test_head_is_longer_front_to_back_than_wide(head):
    sliced, _ = head
    n_coronal, n_sagittal = len(sliced.slices["coronal"]), len(sliced.slices["sagittal"])
    assert n_coronal > 1.1 * n_sagittal
    height, width = head_box(middle(sliced, "axial")).shape
    assert height > 1.1 * width


def test_brainstem_and_cerebellum_are_inferior_and_posterior(head):
    sliced, _ = head
    sagittal = middle(sliced, "sagittal") > TISSUE_LEVEL
    rows, cols = np.nonzero(sagittal)
    assert cols[rows == rows.max()].mean() > SIZE / 2  # lowest tissue on the posterior side
    lowest_axial = sliced.slices["axial"][:10] > TISSUE_LEVEL
    rows = np.nonzero(lowest_axial)[1]
    assert rows.mean() > SIZE / 2 + 10  # posterior is at the bottom of axial images


def test_slices_are_trimmed_to_the_anatomy(head):
    sliced, masks = head
    axial = sliced.table.filter(pl.col("orientation") == "axial")
    z_with_brain = np.flatnonzero(masks["brain"].any(axis=(0, 1)))
    assert axial["index"].to_list() == list(range(z_with_brain[0], z_with_brain[-1] + 1))
    assert axial["structure_brain"].all()
    skull_slices = axial["structure_skull"].sum()
    assert 0 < skull_slices < axial.height
    assert axial["region_skull"].to_list() == axial["structure_skull"].to_list()
