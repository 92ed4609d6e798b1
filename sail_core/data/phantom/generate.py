"""Generate a CT and/or an MRI phantom dataset in the TotalSegmentator layout."""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from sail_core.columns import MODALITIES
from sail_core.data.dataset import IMAGE_FILE, META_COLUMNS
from sail_core.data.phantom.body import structure_masks
from sail_core.data.phantom.fov import CT_STUDIES, MRI_STUDIES, PhantomSizes
from sail_core.data.phantom.meta import roster
from sail_core.data.phantom.scan import ct_scan, mri_scan
from sail_core.data.phantom.writer import reorient, write_meta_csv, write_scan
from sail_core.io import write_json

logger = logging.getLogger(__name__)

PROVENANCE_FILE = "phantom.json"
CT_LAYOUTS = (("R", "A", "S"), ("L", "P", "S"), ("L", "A", "S"), ("S", "R", "A"), ("A", "I", "L"))
MRI_LAYOUTS = {
    "axial": (("R", "A", "S"), ("L", "P", "S"), ("L", "A", "S")),
    "coronal": (("R", "S", "A"), ("L", "S", "P"), ("L", "I", "A")),
    "sagittal": (("A", "S", "R"), ("P", "S", "L"), ("A", "I", "L")),
}
"""Array-axis directions the volumes are stored in, taken in turn; MRI keeps its slice axis last."""
_SCAN_FOLDER = re.compile(r"^s(\d+)$")
_RECIPES = {"ct": (ct_scan, CT_STUDIES), "mri": (mri_scan, MRI_STUDIES)}


def phantom_plan(
    roots: dict[str, str | Path | None], counts: dict[str, int]
) -> dict[str, tuple[Path, int]]:
    """The (root, number of scans) of each modality the phantom writes: those with a root.

    As with a real dataset, a null root leaves its modality out (its count is not used); a
    named root with no scans to write is refused, since it would hold an empty dataset.
    """
    plan = {}
    for modality, root in roots.items():
        n = counts[modality]
        if not isinstance(n, int) or n < 0:
            raise ValueError(
                f"number of {modality} phantom scans must be a non-negative integer, got {n!r}"
            )
        if not root:
            continue
        if n == 0:
            raise ValueError(
                f"phantom.n_{modality} is 0 but dataset.{modality}_root is set ({root}); "
                f"set dataset.{modality}_root to null for a dataset without {modality.upper()}"
            )
        plan[modality] = (Path(root), n)
    if not plan:
        raise ValueError("the phantom needs dataset.ct_root or dataset.mri_root; both are null")
    if len(plan) == 2 and plan["ct"][0].resolve() == plan["mri"][0].resolve():
        raise ValueError(f"CT and MRI phantom roots must differ, both are {plan['ct'][0]}")
    return plan


def generate_phantom(
    ct_root: str | Path | None,
    mri_root: str | Path | None,
    *,
    n_ct: int,
    n_mri: int,
    seed: int,
    **sizes,
) -> None:
    """Write `n_ct` CT scans under `ct_root` and `n_mri` MRI scans under `mri_root`; `sizes` are
    fields of PhantomSizes (ct_matrix, ct_max_slices, mri_matrix, mri_slice_thickness_mm). A
    root of None leaves that modality out (a CT-only or MRI-only dataset).

    Image ids are s0000, s0001, ... per modality. The same arguments give the same files, byte
    for byte. Each meta.csv is written last, so an interrupted run never looks complete; scan
    folders left from a larger earlier run are removed. A non-empty root that holds no
    phantom.json (the generator's parameters) is refused rather than written over.
    """
    sizes = PhantomSizes(**sizes)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"phantom seed must be a non-negative integer, got {seed!r}")
    plan = phantom_plan({"ct": ct_root, "mri": mri_root}, {"ct": n_ct, "mri": n_mri})
    for root, _ in plan.values():
        if root.exists() and any(root.iterdir()) and not (root / PROVENANCE_FILE).exists():
            raise FileExistsError(
                f"{root}: not empty and holds no {PROVENANCE_FILE}; refusing to write a phantom over it"
            )
    for modality, (root, n) in plan.items():
        _prepare_root(root, n, {"modality": modality, "n_scans": n, "seed": seed, **asdict(sizes)})
    rows = {
        modality: _write_scans(modality, root, n, seed, sizes)
        for modality, (root, n) in plan.items()
    }
    for modality, (root, _) in plan.items():
        write_meta_csv(root / "meta.csv", META_COLUMNS[modality], rows[modality])


def _prepare_root(root: Path, n: int, provenance: dict) -> None:
    """Record the parameters and take away what would make the root look complete or stale."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta.csv").unlink(missing_ok=True)
    for folder in root.iterdir():
        match = _SCAN_FOLDER.match(folder.name)
        if folder.is_dir() and match and int(match.group(1)) >= n:
            shutil.rmtree(folder)
    write_json(root / PROVENANCE_FILE, provenance)


def _write_scans(modality: str, root: Path, n: int, seed: int, sizes: PhantomSizes) -> list[dict]:
    stream = MODALITIES.index(modality)
    recipe, studies = _RECIPES[modality]
    weights = {name: study.weight for name, study in studies.items()}
    rows = []
    for index, (gender, institute, study_type) in enumerate(
        roster(n, weights, np.random.default_rng([seed, stream]))
    ):
        image_id = f"s{index:04d}"
        rng = np.random.default_rng([seed, stream, index + 1])
        fields, scan = recipe(image_id, gender, institute, study_type, rng, sizes)
        layouts = CT_LAYOUTS if modality == "ct" else MRI_LAYOUTS[scan.plane]
        layout = layouts[index % len(layouts)]
        image, affine = reorient(scan.image, scan.grid.affine, layout)
        labels, _ = reorient(scan.labels, scan.grid.affine, layout)
        write_scan(
            root / image_id, IMAGE_FILE[modality], image, structure_masks(labels, modality), affine
        )
        rows.append(fields)
        logger.info(
            "%s/%s (%d of %d): %s, %s plane, %s voxels of %s mm, stored %s",
            modality, image_id, index + 1, n, fields["study_type"], scan.plane, scan.image.shape,
            "x".join(f"{s:g}" for s in scan.grid.spacing), "".join(layout),
        )  # fmt: skip
    return rows
