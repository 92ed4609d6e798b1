"""Cost of slicing one CT of realistic size, relative to only decompressing its files.

Builds a 300 x 300 x 400 int16 body phantom with 8 masks in TotalSegmentator layout (gzip NIfTI
in a temporary folder; its noise compresses 1.8x, near the 2-3x of clinical CT), then prints
  - slice and store / bare decompression: the median over rounds of the ratio of the time to slice
    the scan and write its store to the time to read its image and mask files and decompress them
    into arrays with the same decompressor the slicing reads them with, and nothing else. The two
    are timed in alternation (which goes first alternates too), so load from other work on the
    machine weighs on both alike;
  - the same against nibabel's full load of the files (the reference before reads were sped up);
  - bytes per stored slice (on-disk size of the Zarr store / number of stored slices).
Torch runs on --threads threads, by default the slicing job's one.

Run: .venv/bin/python benchmarks/slicing.py [--size 64] [--rounds 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from sail_core.data.slicing import SlicingParams, slice_scan, write_scan
from sail_core.data.volume import gunzip

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


def scan_files(image_path: Path, segmentations: Path) -> list[Path]:
    return [image_path, *sorted(segmentations.glob("*.nii.gz"))]


def bare_decompression(files: list[Path]) -> None:
    for path in files:
        np.frombuffer(gunzip(path.read_bytes()), np.uint8)


def nibabel_load(files: list[Path]) -> None:
    for path in files:
        np.asanyarray(nib.load(path).dataobj)


def slice_and_store(image_path: Path, segmentations: Path, size: int, out: Path):
    sliced = slice_scan(
        "ct", "s0001", image_path, segmentations, "ct thorax-abdomen-pelvis",
        SlicingParams(size=size),
    )  # fmt: skip
    write_scan(sliced, out / "s0001.zarr", out / "s0001.parquet")
    return sliced


def race(size: int, rounds: int, tmp: Path) -> None:
    image_path, segmentations = write_tree(tmp / "s0001")
    files = scan_files(image_path, segmentations)
    out = tmp / "out"
    contenders = {
        "bare": lambda: bare_decompression(files),
        "nibabel": lambda: nibabel_load(files),
        "slice": lambda: slice_and_store(image_path, segmentations, size, out),
    }
    times = {name: [] for name in contenders}
    for round_ in range(rounds + 1):  # round 0 warms the page cache and the imports
        order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
        for name in order:
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            contenders[name]()
            if round_:
                times[name].append(time.perf_counter() - start)
    sliced = slice_and_store(image_path, segmentations, size, out)
    n_slices = sliced.table.height
    store_bytes = sum(f.stat().st_size for f in (out / "s0001.zarr").rglob("*") if f.is_file())
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = {
        reference: statistics.median(
            s / r for s, r in zip(times["slice"], times[reference], strict=True)
        )
        for reference in ("bare", "nibabel")
    }
    print(f"volume {SHAPE} int16, {len(sliced.attrs['structures'])} masks, S={size}")
    print(f"bare decompression: {median['bare']:.3f} s (median of {rounds} rounds)")
    print(f"nibabel load:       {median['nibabel']:.3f} s")
    print(f"slice and store:    {median['slice']:.3f} s ({n_slices} slices)")
    print(f"ratio slice+store / bare decompression: {ratio['bare']:.2f}")
    print(f"ratio slice+store / nibabel load:       {ratio['nibabel']:.2f}")
    print(f"bytes per stored slice: {store_bytes / n_slices:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="slice size S in pixels")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per contender")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the job's: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        race(args.size, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
