"""The report's figures (matplotlib, object API, no global pyplot state)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib import colormaps
from matplotlib.figure import Figure

from sail_core.columns import ORIENTATIONS, SPLITS
from sail_core.io import atomic_output, read_json

METHOD_NAMES = {
    "sae_top_coefficients": "SAE features, top |coef|",
    "pca": "PCA components",
    "random_features": "random SAE features",
}
METHOD_COLOURS = {"sae_top_coefficients": "#1f5fa8", "pca": "#d9822b", "random_features": "#8a8a8a"}
DPI = 110


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # no Software tag: the same data gives byte-identical files
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def save_png(figure: Figure, path: str | Path) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(png_bytes(figure))


def _note(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="0.4")


def _level_names(widths: list[int], n_levels: int) -> list[str]:
    if len(widths) == n_levels:
        return [f"{width} latents" for width in widths]
    return [f"level {level}" for level in range(n_levels)]


def _series(history: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    rows = history.select("step", column).drop_nulls()
    return rows["step"].to_numpy(), rows[column].to_numpy()


def training_curves(history: pl.DataFrame, widths: list[int]) -> Figure:
    """Loss, FVU per nested level (train and validation) and dead latents against the step;
    `widths` names the levels."""
    figure = Figure(figsize=(12, 3.4), layout="constrained")
    loss_axes, fvu_axes, dead_axes = figure.subplots(1, 3)
    if "step" not in history.columns or history.height == 0:
        for axes in (loss_axes, fvu_axes, dead_axes):
            _note(axes, "no training history recorded")
        return figure

    for column, label in (("loss", "loss"), ("auxk_loss", "AuxK loss")):
        if column in history.columns:
            loss_axes.plot(*_series(history, column), label=label)
    loss_axes.set(title="Training loss", xlabel="step", yscale="log")
    loss_axes.legend(frameon=False)

    train_levels = sorted(c for c in history.columns if c.startswith("train_fvu_level_"))
    val_levels = sorted(c for c in history.columns if c.startswith("val_fvu_level_"))
    names = _level_names(widths, max(len(train_levels), len(val_levels)))
    for level, name in enumerate(names):
        colour = colormaps["viridis"](level / max(1, len(names) - 1))
        if level < len(train_levels):
            fvu_axes.plot(*_series(history, train_levels[level]), color=colour, alpha=0.45)
        if level < len(val_levels):
            fvu_axes.plot(
                *_series(history, val_levels[level]), "o-", color=colour, ms=3, label=name
            )
    if names:
        fvu_axes.legend(frameon=False, title="validation (dots), train (thin)", fontsize=8)
    else:
        _note(fvu_axes, "no FVU recorded")
    fvu_axes.set(title="FVU per nested level", xlabel="step", yscale="log")

    if "dead_fraction" in history.columns:
        dead_axes.plot(*_series(history, "dead_fraction"), color="#b23b3b")
    dead_axes.set(title="Dead latents (fraction)", xlabel="step", ylim=(0, 1))
    if "lr" in history.columns:
        lr_axes = dead_axes.twinx()
        lr_axes.plot(*_series(history, "lr"), color="0.55", lw=1, ls="--")
        lr_axes.set_ylabel("learning rate (dashed)", color="0.4")
    return figure


def recovery_curves(summary: pl.DataFrame, split: str) -> Figure:
    """Mean AUROC and recovery (ratio of means) against the number of features N per method,
    on `split`, with the dense probe's mean AUROC for reference."""
    figure = Figure(figsize=(11, 3.6), layout="constrained")
    auc_axes, ratio_axes = figure.subplots(1, 2)
    rows = summary.filter(pl.col("split") == split) if "split" in summary.columns else summary
    if rows.height == 0:
        for axes in (auc_axes, ratio_axes):
            _note(axes, f"no recovery results on the {split} split")
        return figure
    for method in [m for m in METHOD_NAMES if m in set(rows["method"])]:
        part = rows.filter(pl.col("method") == method).sort("n_features")
        style = {"color": METHOD_COLOURS[method], "label": METHOD_NAMES[method], "marker": "o"}
        auc_axes.plot(part["n_features"], part["mean_auc"], ms=3, **style)
        ratio_axes.plot(part["n_features"], part["ratio_of_means"], ms=3, **style)
    dense = rows["mean_dense_auc"].drop_nulls().drop_nans()
    if dense.len():
        auc_axes.axhline(dense.mean(), color="black", ls="--", lw=1, label="dense probe")
    ratio_axes.axhline(1.0, color="black", ls="--", lw=1)
    n_targets = rows["n_targets"].max() if "n_targets" in rows.columns else None
    auc_axes.set(
        title=f"Probe AUROC ({split}, mean over {n_targets} targets)",
        xlabel="number of features N",
        ylabel="mean AUROC",
        xscale="log",
    )
    ratio_axes.set(
        title="Recovery: ratio of mean AUROCs to the dense probe",
        xlabel="number of features N",
        ylabel="recovery",
        xscale="log",
    )
    auc_axes.legend(frameon=False, fontsize=8)
    return figure


def detection_chart(
    strata: dict[str, list[tuple[str, float]]], threshold: float, selected_on: str, scored_on: str
) -> Figure:
    """One panel per stratum: each structure's held-out AUROC (feature chosen on `selected_on`,
    scored on `scored_on`), sorted, with the chance line and the detection threshold."""
    names = [name for name, rows in strata.items() if rows]
    n_columns = min(3, max(len(names), 1))
    n_panel_rows = -(-max(len(names), 1) // n_columns)
    tallest = max((len(strata[name]) for name in names), default=1)
    figure = Figure(
        figsize=(4.2 * n_columns, n_panel_rows * (0.9 + 0.17 * tallest)), layout="constrained"
    )
    panels = np.atleast_1d(figure.subplots(n_panel_rows, n_columns, squeeze=False).ravel())
    if not names:
        _note(panels[0], "no structure scored on held-out rows")
    for axes, name in zip(panels, names, strict=False):
        rows = sorted(strata[name], key=lambda row: row[1])
        positions = np.arange(len(rows))
        values = np.array([auroc for _, auroc in rows])
        colours = np.where(values >= threshold, "#1f5fa8", "#9bb3cf")
        axes.barh(positions, values - 0.5, left=0.5, color=colours, height=0.75)
        axes.axvline(0.5, color="black", lw=1, label="chance")
        axes.axvline(threshold, color="#b23b3b", ls="--", lw=1, label=f"AUROC {threshold:g}")
        axes.set_yticks(positions, [structure for structure, _ in rows], fontsize=7)
        axes.set(xlim=(0, 1), ylim=(-0.6, tallest - 0.4), title=name, xlabel="held-out AUROC")
    for axes in panels[len(names) :]:
        axes.set_axis_off()
    if names:
        panels[0].legend(frameon=False, fontsize=7, loc="lower right")
    figure.suptitle(
        f"Single-feature structure detection: feature chosen on {selected_on}, "
        f"AUROC on {scored_on}",
        fontsize=10,
    )
    return figure


def example_rows(index: pl.DataFrame, per_group: int) -> pl.DataFrame:
    """Up to `per_group` slices per (modality, orientation): the middle stored slice of scans
    spread evenly over the sorted scan ids."""
    picked = []
    for _, group in index.group_by("modality", "orientation", maintain_order=True):
        scans = sorted(group["image_id"].unique().to_list())
        chosen = [
            scans[i]
            for i in np.linspace(0, len(scans) - 1, min(per_group, len(scans))).round().astype(int)
        ]
        for image_id in dict.fromkeys(chosen):
            slices = group.filter(pl.col("image_id") == image_id).sort("index")
            picked.append(slices.row(slices.height // 2, named=True))
    return pl.DataFrame(picked).sort("modality", "orientation", "image_id")


def example_slices(rows: pl.DataFrame, images: np.ndarray) -> Figure:
    """A grid of `images` (n, S, S): one row per orientation, a block of columns per modality."""
    orientations = [o for o in ORIENTATIONS if o in set(rows["orientation"])]
    counts = rows.group_by("modality", "orientation").len()
    modalities = sorted(set(rows["modality"]))
    width = {m: counts.filter(pl.col("modality") == m)["len"].max() for m in modalities}
    first_column = dict(
        zip(modalities, np.cumsum([0] + [width[m] for m in modalities]), strict=False)
    )
    figure = Figure(
        figsize=(1.3 * sum(width.values()) + 0.5, 1.45 * len(orientations)), layout="constrained"
    )
    grid = figure.subplots(len(orientations), sum(width.values()), squeeze=False)
    for axes in grid.flat:
        axes.set_axis_off()
    placed = dict.fromkeys(((m, o) for m in modalities for o in orientations), 0)
    for position, row in enumerate(rows.iter_rows(named=True)):
        key = (row["modality"], row["orientation"])
        axes = grid[orientations.index(key[1]), first_column[key[0]] + placed[key]]
        placed[key] += 1
        axes.imshow(images[position], cmap="gray", vmin=0, vmax=255)
        axes.set_title(f"{key[0].upper()} {row['image_id']} · {row['index']}", fontsize=8)
    for row_position, orientation in enumerate(orientations):
        first = grid[row_position, 0]
        first.text(-0.08, 0.5, orientation, rotation=90, ha="right", va="center",
                   transform=first.transAxes, fontsize=10)  # fmt: skip
    return figure


def level_widths(metrics: dict) -> list[int]:
    """The nested level widths recorded in an SAE's metrics.json (empty if it has none)."""
    for split in SPLITS:
        levels = (metrics.get(split) or {}).get("levels") if isinstance(metrics, dict) else None
        if levels:
            return [level.get("width") for level in levels]
    return []


def write_sae_figures(
    history: str | Path | None,
    recovery: str | Path,
    metrics: str | Path,
    split: str,
    training_out: str | Path,
    recovery_out: str | Path,
) -> None:
    """Training curves from an SAE's history.parquet (levels named from its metrics.json; none
    for an imported checkpoint) and recovery curves from its recovery summary.parquet, as PNG
    files."""
    widths = level_widths(read_json(metrics))
    history_table = pl.read_parquet(history) if history else pl.DataFrame()
    save_png(training_curves(history_table, widths), training_out)
    save_png(recovery_curves(pl.read_parquet(recovery), split), recovery_out)


def write_example_slices(index: str | Path, reader, per_group: int, out: str | Path) -> None:
    """The example-slice grid of the slice index at `index`; `reader.read(rows)` gives pixels."""
    columns = ["modality", "image_id", "orientation", "index", "array_pos"]
    rows = example_rows(pl.read_parquet(index, columns=columns), per_group)
    save_png(example_slices(rows, reader.read(rows)), out)
