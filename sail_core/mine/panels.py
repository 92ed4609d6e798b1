"""PNG montages of a feature's top slices for the report and the labeller."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

CAPTION_PX = 24
TITLE_PX = 18
READ_COLUMNS = ("modality", "image_id", "orientation", "array_pos")


def panel_name(feature: int) -> str:
    return f"feature_{feature:05d}.png"


def montage(
    images: np.ndarray, captions: list[str], title: str, tile_px: int, columns: int
) -> Image.Image:
    """Grayscale tiles in a grid, a two-line caption under each, a title on top."""
    n = images.shape[0]
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    canvas = Image.new(
        "L", (columns * tile_px, TITLE_PX + rows * (tile_px + CAPTION_PX)), color=255
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    draw.text((2, 2), title, fill=0, font=font)
    for position, (image, caption) in enumerate(zip(images, captions, strict=True)):
        x = (position % columns) * tile_px
        y = TITLE_PX + (position // columns) * (tile_px + CAPTION_PX)
        tile = Image.fromarray(image).resize((tile_px, tile_px), Image.Resampling.BILINEAR)
        canvas.paste(tile, (x, y))
        draw.multiline_text((x + 2, y + tile_px + 1), caption, fill=0, font=font, spacing=1)
    return canvas


def write_panels(
    top: pl.DataFrame,
    index: pl.DataFrame,
    reader,
    out_dir: Path,
    tile_px: int,
    columns: int,
    features_per_read: int = 32,
) -> int:
    """One PNG per feature of `top` (feature, rank, row_id, activation) into `out_dir`.

    `reader.read(rows)` returns the uint8 slices of rows with modality, image_id, orientation,
    array_pos; the slices of `features_per_read` features are read at once, which lets the
    reader merge nearby slices of a scan. Returns the number of panels written.
    """
    rows = top.sort("feature", "rank").join(
        index.select("row_id", *READ_COLUMNS, "index"), on="row_id", how="left"
    )
    features = rows["feature"].unique(maintain_order=True).to_list()
    written = 0
    for start in range(0, len(features), features_per_read):
        batch = rows.filter(pl.col("feature").is_in(features[start : start + features_per_read]))
        images = reader.read(batch.select(READ_COLUMNS))
        batch = batch.with_row_index("image")
        for (feature,), group in batch.group_by("feature", maintain_order=True):
            captions = [
                f"{m}/{i} {o[:3]} {s}\n{a:.3g}"
                for m, i, o, s, a in group.select(
                    "modality", "image_id", "orientation", "index", "activation"
                ).iter_rows()
            ]
            tiles = images[group["image"].to_numpy()]
            image = montage(tiles, captions, f"feature {feature}", tile_px, columns)
            image.save(out_dir / panel_name(feature), format="PNG")
            written += 1
        logger.info("%d of %d panels written", written, len(features))
    return written
