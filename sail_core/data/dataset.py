"""Readers for TotalSegmentator CT v2.0.1 / MRI v2.0.0 trees (and the phantom, same format)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import polars as pl
import yaml
from jsonschema import Draft202012Validator

from sail_core.columns import MODALITIES

IMAGE_FILE = {"ct": "ct.nii.gz", "mri": "mri.nii.gz"}
# The documented id: an "s" and digits. It names folders and output files, so only an id that
# matches in full (no separators, "..", whitespace or control characters) becomes a scan key.
IMAGE_ID_PATTERN = re.compile(r"s[0-9]+")
AGE_BINS = ("<40", "40-60", "60-80", ">=80")

CT_COLUMNS = (
    "image_id", "age", "gender", "institute", "study_type", "split", "manufacturer",
    "scanner_model", "kvp", "pathology", "pathology_location",
)  # fmt: skip
MRI_COLUMNS = (
    "image_id", "age", "gender", "institute", "study_type", "split", "manufacturer",
    "scanner_model", "magnetic_field_strength", "scanning_sequence", "echo_time",
    "repetition_time", "slice_thickness", "source",
)  # fmt: skip
META_COLUMNS = {"ct": CT_COLUMNS, "mri": MRI_COLUMNS}
log = logging.getLogger(__name__)

NUMERIC_COLUMNS = (
    "age", "kvp", "magnetic_field_strength", "echo_time", "repetition_time", "slice_thickness",
)  # fmt: skip


class DatasetError(ValueError):
    """A dataset-level problem (unreadable meta.csv, wrong columns) that no single scan owns."""


def normalise_study_type(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"\s+", " ", value.strip().lower()) or None


def age_bin(age: pl.Expr) -> pl.Expr:
    """Bins [0,40), [40,60), [60,80), [80,inf), as their labels say: "<40" is below 40 and
    ">=80" includes 80 (the study's bins closed on the right, putting 40 in "<40")."""
    return (
        pl.when(age.is_null())
        .then(None)
        .when(age < 40)
        .then(pl.lit("<40"))
        .when(age < 60)
        .then(pl.lit("40-60"))
        .when(age < 80)
        .then(pl.lit("60-80"))
        .otherwise(pl.lit(">=80"))
    )


def read_meta_csv(path: str | Path, modality: str) -> pl.DataFrame:
    """meta.csv as a typed table: semicolon separated, optional BOM, dataset `split` dropped."""
    path = Path(path)
    if modality not in MODALITIES:
        raise DatasetError(f"{path}: unknown modality {modality!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
        df = pl.read_csv(text.encode(), separator=";", infer_schema=False, null_values=["", "nan"])
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError) as err:
        raise DatasetError(f"{path}: cannot read meta.csv ({err})") from err
    missing = [c for c in META_COLUMNS[modality] if c not in df.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)} for {modality}")
    df = df.drop("split").with_columns(
        pl.col(c).str.strip_chars() for c in df.columns if c != "split"
    )
    casts = []
    for column in NUMERIC_COLUMNS:
        if column in df.columns:
            casts.append(pl.col(column).cast(pl.Float64, strict=False))
    return df.with_columns(
        *casts,
        pl.col("study_type").map_elements(normalise_study_type, return_dtype=pl.Utf8),
        pl.col("gender").str.to_lowercase(),
        pl.lit(modality).alias("modality"),
    )


def is_usable_image_id(image_id: str | None) -> bool:
    return image_id is not None and IMAGE_ID_PATTERN.fullmatch(image_id) is not None


def present_roots(roots: dict[str, str | Path | None]) -> dict[str, Path]:
    """The dataset roots a config names (a CT-only or MRI-only dataset leaves the other null)."""
    return {modality: Path(root) for modality, root in roots.items() if root}


def scan_folders(root: str | Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def discover_scan_keys(roots: dict[str, str | Path | None]) -> list[tuple[str, str]]:
    """Every (modality, image_id) with a usable id named by meta.csv or by a subject folder,
    sorted. Never fails on meta.csv content: an unreadable meta.csv contributes nothing here and
    is reported by the job that reads it."""
    keys: set[tuple[str, str]] = set()
    for modality, root in present_roots(roots).items():
        ids = list(scan_folders(root))
        meta = root / "meta.csv"
        if meta.exists():
            try:
                listed = read_meta_csv(meta, modality)["image_id"]
            except DatasetError as err:
                log.warning("%s", err)
            else:
                ids += listed.drop_nulls().to_list()
        keys.update((modality, i) for i in ids if is_usable_image_id(i))
    return sorted(keys)


def scan_problem(root: Path, modality: str, image_id: str, in_meta: bool) -> str | None:
    """Why a scan cannot be sliced, judged from the tree alone; None when it looks usable."""
    if not is_usable_image_id(image_id):
        return f"image_id {image_id!r} is not 's' followed by digits"
    if not in_meta:
        return f"no row in {root / 'meta.csv'}"
    folder = root / image_id
    if not folder.is_dir():
        return f"listed in meta.csv but folder {folder} does not exist"
    if not (folder / IMAGE_FILE[modality]).exists():
        return f"missing image file {IMAGE_FILE[modality]}"
    if not (folder / "segmentations").is_dir():
        return "missing segmentations folder"
    return None


def mark_duplicates(meta: pl.DataFrame, meta_path: Path) -> pl.DataFrame:
    """One row per image_id; a duplicated id keeps its first row, with the reason as a problem."""
    meta = meta.with_columns(pl.col("image_id").fill_null("")).with_row_index("meta_row", 2)
    copies = meta.group_by("image_id").agg(pl.col("meta_row").alias("meta_rows"))
    meta = meta.join(copies, on="image_id", how="left").unique(
        "image_id", keep="first", maintain_order=True
    )
    reasons = [
        f"image_id {i!r} appears on {len(rows)} rows of {meta_path} (lines "
        f"{', '.join(map(str, rows))}); which one is right is unknown"
        if len(rows) > 1
        else None
        for i, rows in meta.select("image_id", "meta_rows").iter_rows()
    ]
    return meta.with_columns(pl.Series("duplicate", reasons, dtype=pl.Utf8)).drop(
        "meta_row", "meta_rows"
    )


def build_subjects(roots: dict[str, str | Path | None]) -> pl.DataFrame:
    """One row per scan of every dataset root, with paths, age_bin and a `problem` column.

    Every meta.csv row is judged on its own: an unusable or duplicated image_id is that row's
    problem, and the other rows are unaffected."""
    frames = []
    for modality, root in present_roots(roots).items():
        meta = mark_duplicates(read_meta_csv(root / "meta.csv", modality), root / "meta.csv")
        folders_only = sorted(set(scan_folders(root)) - set(meta["image_id"]))
        meta = pl.concat(
            [
                meta,
                pl.DataFrame(
                    {"image_id": folders_only, "modality": [modality] * len(folders_only)}
                ),
            ],
            how="diagonal_relaxed",
        )
        in_meta = set(meta["image_id"]) - set(folders_only)
        ids = meta["image_id"].to_list()
        problems = [
            duplicate or scan_problem(root, modality, i, i in in_meta)
            for i, duplicate in zip(ids, meta["duplicate"], strict=True)
        ]
        meta = meta.drop("duplicate").with_columns(
            pl.Series("image_path", [str(root / i / IMAGE_FILE[modality]) for i in ids]),
            pl.Series("segmentation_dir", [str(root / i / "segmentations") for i in ids]),
            pl.Series("problem", problems, dtype=pl.Utf8),
        )
        frames.append(meta)
    if not frames:
        raise DatasetError("no dataset root configured (dataset.ct_root and dataset.mri_root)")
    subjects = pl.concat(frames, how="diagonal_relaxed")
    subjects = subjects.with_columns(age_bin(pl.col("age")).alias("age_bin"))
    leading = ["modality", "image_id"]
    return subjects.select(leading + [c for c in subjects.columns if c not in leading]).sort(
        leading
    )


def rows_without_scan_job(subjects: pl.DataFrame) -> pl.DataFrame:
    """Quarantine records (modality, image_id, path, reason) for the subject rows whose id cannot
    be a scan key, so no slicing job reports them."""
    rows = subjects.filter(
        ~pl.col("image_id").map_elements(is_usable_image_id, return_dtype=pl.Boolean)
    )
    return rows.select(
        "modality",
        "image_id",
        pl.col("image_path").alias("path"),
        pl.col("problem").alias("reason"),
    )


def check_subjects(
    subjects: pl.DataFrame, schema_path: str | Path, *, on_bad_scan: str
) -> pl.DataFrame:
    """Validate every row against the subject schema; a violation becomes the scan's `problem`.

    With on_bad_scan="fail" any problem stops the run, one line per scan; with "quarantine" the
    problems are logged and each such scan is quarantined by its slicing job.
    """
    validator = Draft202012Validator(yaml.safe_load(Path(schema_path).read_text()))
    problems = []
    for row in subjects.iter_rows(named=True):
        present = {k: v for k, v in row.items() if v is not None}
        reasons = [row["problem"]] if row["problem"] else []
        reasons += [
            f"{'.'.join(map(str, e.absolute_path)) or 'row'}: {e.message}"
            for e in validator.iter_errors(present)
        ]
        problems.append("; ".join(reasons) or None)
    checked = subjects.with_columns(pl.Series("problem", problems, dtype=pl.Utf8))
    bad = checked.filter(pl.col("problem").is_not_null())
    lines = [
        f"{m}/{i} ({p}): {r}"
        for m, i, p, r in bad.select("modality", "image_id", "image_path", "problem").iter_rows()
    ]
    if lines and on_bad_scan == "fail":
        raise DatasetError("bad scans:\n" + "\n".join(lines))
    for line in lines:
        log.warning("will be quarantined: %s", line)
    return checked
