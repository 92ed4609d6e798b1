"""Small PNG thumbnails of slices, by row id."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
from PIL import Image

from sail_core.data.store import ROW_COLUMNS


def png(image: np.ndarray, size: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def thumbnails(row_ids: list[int], index: pl.DataFrame, reader, size: int) -> dict[int, bytes]:
    """PNG bytes per row id; `reader.read(rows)` returns the uint8 slices of index rows."""
    wanted = list(dict.fromkeys(row_ids))
    if not wanted:
        return {}
    rows = pl.DataFrame({"row_id": wanted}, schema={"row_id": pl.Int64}).join(
        index.select("row_id", *ROW_COLUMNS), on="row_id", how="inner", maintain_order="left"
    )
    if rows.height != len(wanted):
        absent = sorted(set(wanted) - set(rows["row_id"].to_list()))
        raise ValueError(f"row ids not in the slice index: {absent[:10]}")
    images = reader.read(rows.select(ROW_COLUMNS))
    return {row_id: png(image, size) for row_id, image in zip(wanted, images, strict=True)}
