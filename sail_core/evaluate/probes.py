"""Linear probes on dense embeddings and on full sparse codes, one binary model per target.

Features are standardised on the training subsample (sparse codes only scaled, so they stay
sparse), C is chosen on val by AUROC from a small grid, classes are weighted to balance. The
training subsample is drawn once per target group (stratified on the group's labels) and reused
by the recovery refits. Every target writes its own files, replaced on rerun.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from sail_core.columns import SPLITS
from sail_core.evaluate.features import Features, load_features, needed_rows
from sail_core.evaluate.linear import FitSettings, fit_probe, score_probe
from sail_core.evaluate.targets import (
    IllPosedTarget,
    Skipped,
    Target,
    TooFewSamples,
    build_targets,
    check_well_posed,
)
from sail_core.io import write_parquet
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

TARGETS_FILE = "targets.parquet"
TRAIN_ROWS_FILE = "train_rows.parquet"
STATUS_SCHEMA = {
    "group": pl.Utf8,
    "target": pl.Utf8,
    "kind": pl.Utf8,
    "column": pl.Utf8,
    "stem": pl.Utf8,
    "status": pl.Utf8,
    "reason": pl.Utf8,
    "n_train": pl.Int64,
}


METRICS_SCHEMA = {
    "group": pl.Utf8,
    "target": pl.Utf8,
    "feature_type": pl.Utf8,
    "split": pl.Utf8,
    "n_rows": pl.Int64,
    "n_positive": pl.Int64,
    "roc_auc": pl.Float64,
    "f1": pl.Float64,
    "balanced_accuracy": pl.Float64,
    "penalty": pl.Utf8,
    "c": pl.Float64,
    "c_source": pl.Utf8,
    "n_features": pl.Int64,
    "n_nonzero": pl.Int64,
    "fit_seconds": pl.Float64,
}
COEFFICIENTS_SCHEMA = {
    "group": pl.Utf8,
    "target": pl.Utf8,
    "feature_type": pl.Utf8,
    "rank": pl.Int32,
    "feature": pl.Int32,
    "coefficient": pl.Float64,
    "abs_coefficient": pl.Float64,
}


@dataclass(frozen=True)
class ProbeSettings:
    fit: FitSettings
    max_train_rows: int
    min_class_rows: int
    n_top_coefficients: int
    dense_l2_normalise: bool


def systematic_subsample(
    rows: np.ndarray, strata: np.ndarray, max_rows: int, seed: int
) -> np.ndarray:
    """At most `max_rows` of `rows`, each stratum in proportion (to within one row), sorted."""
    if rows.size <= max_rows:
        return np.sort(rows)
    shuffle = np.random.default_rng(seed).permutation(rows.size)
    order = np.lexsort((shuffle, strata))
    fraction = max_rows / rows.size
    position = np.arange(rows.size)
    picked = np.floor((position + 1) * fraction) > np.floor(position * fraction)
    return np.sort(rows[order[picked]])


def group_train_rows(
    targets: list[Target], splits: np.ndarray, max_rows: int, seed: int
) -> dict[str, np.ndarray]:
    """The shared training subsample of every target group."""
    rows = {}
    for target in targets:
        if target.group in rows:
            continue
        candidates = np.flatnonzero((splits == "train") & target.labelled)
        rows[target.group] = systematic_subsample(
            candidates, target.group_labels[candidates], max_rows, seed
        )
    return rows


def evaluation_rows(target: Target, splits: np.ndarray, train_rows: np.ndarray) -> dict:
    """Row ids per split: the group's training subsample, then every labelled val/test row."""
    return {
        "train": train_rows,
        "val": np.flatnonzero((splits == "val") & target.labelled),
        "test": np.flatnonzero((splits == "test") & target.labelled),
    }


def probe_target(
    target: Target,
    features: dict[str, Features],
    rows: dict[str, np.ndarray],
    settings: ProbeSettings,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Metrics (per feature type and split) and the top coefficients of one target."""
    metrics, coefficients = [], []
    for feature_type, block in features.items():
        y = {split: target.positive[rows[split]] for split in SPLITS}
        x = {split: block.take(rows[split]) for split in SPLITS}
        probe = fit_probe(x["train"], y["train"], x["val"], y["val"], settings.fit, feature_type)
        weights = probe.weights
        for split in SPLITS:
            metrics.append(
                {
                    "group": target.group,
                    "target": target.name,
                    "feature_type": feature_type,
                    "split": split,
                    **score_probe(probe, x[split], y[split]),
                    "penalty": probe.penalty,
                    "c": probe.c,
                    "c_source": probe.c_source,
                    "n_features": block.n_features,
                    "n_nonzero": probe.n_nonzero,
                    "fit_seconds": probe.fit_seconds,
                }
            )
        ranked = np.lexsort((np.arange(weights.size), -np.abs(weights)))
        top = ranked[: settings.n_top_coefficients]
        coefficients.append(
            pl.DataFrame(
                {
                    "group": target.group,
                    "target": target.name,
                    "feature_type": feature_type,
                    "rank": np.arange(1, top.size + 1, dtype=np.int32),
                    "feature": top.astype(np.int32),
                    "coefficient": weights[top],
                    "abs_coefficient": np.abs(weights[top]),
                },
                schema=COEFFICIENTS_SCHEMA,
            )
        )
    return pl.DataFrame(metrics, schema=METRICS_SCHEMA), pl.concat(coefficients)


def _status_row(item: Target | Skipped, status: str, reason: str, n_train: int = 0) -> dict:
    return {
        "group": item.group,
        "target": item.name,
        "kind": item.kind,
        "column": item.column,
        "stem": item.stem if isinstance(item, Target) else None,
        "status": status,
        "reason": reason,
        "n_train": n_train,
    }


def plan_targets(
    index: pl.DataFrame, groups: dict[str, dict], settings: ProbeSettings
) -> tuple[list[Target], list[dict], dict[str, np.ndarray]]:
    """Targets that can be fitted, status rows for those that cannot, group training rows."""
    splits = index["split"].to_numpy()
    fittable, statuses = [], []
    for item in build_targets(index, groups):
        if isinstance(item, Skipped):
            logger.warning("skipping %s/%s: %s", item.group, item.name, item.reason)
            statuses.append(_status_row(item, "skipped", item.reason))
            continue
        try:
            check_well_posed(item, splits, settings.min_class_rows)
        except IllPosedTarget as refusal:
            logger.warning("refusing %s", refusal)
            statuses.append(_status_row(item, "refused", str(refusal)))
            continue
        except TooFewSamples as shortage:
            logger.warning("skipping %s", shortage)
            statuses.append(_status_row(item, "skipped", str(shortage)))
            continue
        fittable.append(item)
    train_rows = group_train_rows(fittable, splits, settings.max_train_rows, settings.fit.seed)
    return fittable, statuses, train_rows


def run_probes(
    index: pl.DataFrame,
    store: CodeStore,
    load_dense: Callable[[np.ndarray], np.ndarray],
    groups: dict[str, dict],
    settings: ProbeSettings,
    out_dir: Path,
) -> pl.DataFrame:
    """Fit every target, write `<stem>.metrics.parquet`, `<stem>.coefficients.parquet` and the
    status table `targets.parquet` into `out_dir`; return the status table."""
    targets, statuses, train_rows = plan_targets(index, groups, settings)
    splits = index["split"].to_numpy()
    features = load_features(
        needed_rows(splits, train_rows), store, load_dense, settings.dense_l2_normalise
    )
    footer = {"seed": str(settings.fit.seed), "settings": json.dumps(asdict(settings))}
    for target in targets:
        rows = evaluation_rows(target, splits, train_rows[target.group])
        metrics, coefficients = probe_target(target, features, rows, settings)
        write_parquet(metrics, out_dir / f"{target.stem}.metrics.parquet", footer)
        write_parquet(coefficients, out_dir / f"{target.stem}.coefficients.parquet", footer)
        statuses.append(_status_row(target, "fitted", "", int(rows["train"].size)))
        val_auc = metrics.filter(pl.col("split") == "val").select("feature_type", "roc_auc")
        logger.info("%s/%s val AUROC %s", target.group, target.name, dict(val_auc.iter_rows()))
    status = pl.DataFrame(statuses, schema=STATUS_SCHEMA)
    write_parquet(status, out_dir / TARGETS_FILE, footer)
    write_parquet(train_rows_table(train_rows), out_dir / TRAIN_ROWS_FILE, footer)
    return status


def train_rows_table(train_rows: dict[str, np.ndarray]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "group": [g for g, rows in train_rows.items() for _ in range(rows.size)],
            "row_id": np.concatenate([*train_rows.values(), np.empty(0, dtype=np.int64)]),
        },
        schema={"group": pl.Utf8, "row_id": pl.Int64},
    )


def read_train_rows(probe_dir: Path) -> dict[str, np.ndarray]:
    table = pl.read_parquet(probe_dir / TRAIN_ROWS_FILE)
    return {
        group: rows["row_id"].to_numpy()
        for (group,), rows in table.group_by("group", maintain_order=True)
    }


def read_probe_results(probe_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Status table, all metrics and all coefficients of a probe directory."""
    status = pl.read_parquet(probe_dir / TARGETS_FILE)
    stems = status.filter(pl.col("status") == "fitted")["stem"].to_list()
    metrics = [pl.read_parquet(probe_dir / f"{s}.metrics.parquet") for s in stems]
    coefficients = [pl.read_parquet(probe_dir / f"{s}.coefficients.parquet") for s in stems]
    return (
        status,
        pl.concat([pl.DataFrame(schema=METRICS_SCHEMA), *metrics], how="vertical_relaxed"),
        pl.concat(
            [pl.DataFrame(schema=COEFFICIENTS_SCHEMA), *coefficients], how="vertical_relaxed"
        ),
    )
