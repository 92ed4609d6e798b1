"""Per-row integer codes (scan, split) that chunked passes over the codes index into."""

from __future__ import annotations

import numpy as np
import polars as pl


def scan_codes(index: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Integer scan code per row of the index and the "ct/s0001"-style id of every code.

    A scan is (modality, image_id), so CT s0001 and MRI s0001 get different codes.
    """
    ids = index.select(pl.concat_str(["modality", "image_id"], separator="/")).to_series()
    names, codes = np.unique(ids.to_numpy().astype(str), return_inverse=True)
    return codes.astype(np.int64), names.tolist()


def split_codes(index: pl.DataFrame, splits: list[str]) -> np.ndarray:
    """Position of each row's split in `splits`, -1 for rows of other splits."""
    unknown = set(splits) - {"train", "val", "test"}
    if unknown:
        raise ValueError(f"unknown split name(s): {', '.join(sorted(unknown))}")
    lookup = {name: position for position, name in enumerate(splits)}
    return index["split"].replace_strict(lookup, default=-1, return_dtype=pl.Int64).to_numpy()
