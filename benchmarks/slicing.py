"""Cost of slicing one CT of realistic size, relative to only loading it.

Builds a 300 x 300 x 400 int16 body phantom with a few masks in TotalSegmentator layout (gzip
NIfTI in a temporary folder), then prints
  - time to slice and store / time to decompress and load the image and masks (same run), and
  - bytes per stored slice (on-disk size of the Zarr store / number of stored slices).

Run: .venv/bin/python benchmarks/slicing.py [--size 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from sail_core.data.slicing import SlicingParams, slice_scan, write_scan

SHAPE = (300, 300, 400)
SPACING = (1.5, 1.5, 1.5)


def ellipsoid(centre, radii):
    x, y, z = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    axes = (x, y, z)
    return sum(((a - c) / r) ** 2 for a, c, r in zip(axes, centre, radii, strict=True)) <= 1


def phantom(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    masks = {
        "liver": ellipsoid((110, 150, 170), (60, 45, 50)),
        "spleen": ellipsoid((200, 120, 190), (25, 30, 35)),
        "kidney_left": ellipsoid((205, 110, 140), (18, 18, 35)),
        "kidney_right": ellipsoid((95, 110, 140), (18, 18, 35)),
        "lung_upper_lobe_left": ellipsoid((200, 160, 320), (45, 60, 60)),
        "lung_upper_lobe_right": ellipsoid((100, 160, 320), (45, 60, 60)),
        "vertebrae_L1": ellipsoid((150, 80, 200), (15, 15, 12)),
        "urinary_bladder": np.zeros(SHAPE, bool),
    }
    body = ellipsoid((150, 150, 205), (130, 100, 185))
    image = rng.normal(-1000, 20, SHAPE).astype(np.int16)
    image[body] = rng.normal(40, 15, int(body.sum())).astype(np.int16)
    for name, mask in masks.items():
        level = {"lung": -820, "vert": 700}.get(name[:4], 60)
        image[mask] = rng.normal(level, 15, int(mask.sum())).astype(np.int16)
    return image, masks


def write_tree(folder: Path) -> tuple[Path, Path]:
    image, masks = phantom()
    affine = np.diag([*SPACING, 1.0])
    segmentations = folder / "segmentations"
    segmentations.mkdir(parents=True)
    nib.save(nib.Nifti1Image(image, affine), folder / "ct.nii.gz")
    for name, mask in masks.items():
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), segmentations / f"{name}.nii.gz")
    return folder / "ct.nii.gz", segmentations


def load_only(image_path: Path, segmentations: Path) -> None:
    for path in [image_path, *sorted(segmentations.glob("*.nii.gz"))]:
        np.asanyarray(nib.load(path).dataobj)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="slice size S in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image_path, segmentations = write_tree(tmp / "s0001")

        start = time.perf_counter()
        load_only(image_path, segmentations)
        load_seconds = time.perf_counter() - start

        start = time.perf_counter()
        sliced = slice_scan(
            "ct", "s0001", image_path, segmentations, "ct thorax-abdomen-pelvis",
            SlicingParams(size=args.size),
        )  # fmt: skip
        store = tmp / "out" / "s0001.zarr"
        write_scan(sliced, store, tmp / "out" / "s0001.parquet")
        slice_seconds = time.perf_counter() - start

        n_slices = sliced.table.height
        store_bytes = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    print(f"volume {SHAPE} int16, {len(sliced.attrs['structures'])} masks, S={args.size}")
    print(f"load only:       {load_seconds:.2f} s")
    print(f"slice and store: {slice_seconds:.2f} s ({n_slices} slices)")
    print(f"ratio slice+store / load: {slice_seconds / load_seconds:.2f}")
    print(f"bytes per stored slice:   {store_bytes / n_slices:.0f}")


if __name__ == "__main__":
    main()
