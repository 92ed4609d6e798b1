"""Performance recovery: how much of the dense probe's AUROC N features recover.

For every probe target whose dense AUROC on the report split exceeds the cut-off, and every N,
a probe is refitted (same training subsample, C tuned on val) on
- `sae_top_coefficients`: the N SAE features with the largest |coefficient| in that target's
  full sparse probe; past the probe's non-zero coefficients (an L1 probe keeps few) the list
  continues with the `continuation` ranking fitted on the training rows (class-mean difference:
  |mean of positives - mean of negatives| / sd) or, with continuation "none", the curve stops
  there. Every curve row says which ranking chose its features and the probe's n_nonzero;
- `pca`: the first N principal components of the dense embeddings (fitted on the group's
  training rows);
- `random_features`: N SAE features drawn at random (seeded, nested in N) among those active on
  the training rows.
Recovery is reported with the three definitions of sail_core.metrics (the study aggregated
targets with dense AUROC > 0.6 the same way).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.decomposition import PCA

from sail_core import metrics
from sail_core.evaluate.features import Features, load_features, needed_rows
from sail_core.evaluate.linear import FitSettings, fit_probe, score_probe
from sail_core.evaluate.probes import (
    SPLITS,
    evaluation_rows,
    read_probe_results,
    read_train_rows,
)
from sail_core.evaluate.targets import Target, build_targets
from sail_core.sae.codes import CodeStore

logger = logging.getLogger(__name__)

METHODS = ("sae_top_coefficients", "pca", "random_features")
CONTINUATIONS = ("class_mean_difference", "none")
PROBE_RANKING = "probe |coefficient|"
CONTINUED_RANKING = "probe |coefficient|, then class-mean difference on train"
METHOD_RANKINGS = {"pca": "principal component order", "random_features": "seeded random"}
FULL_SPARSE = "sae_all_features"
DEFINITIONS = metrics.RECOVERY_DEFINITIONS


@dataclass(frozen=True)
class RecoverySettings:
    n_values: tuple[int, ...]
    fractions: tuple[float, ...]
    min_dense_auc: float
    report_split: str
    methods: tuple[str, ...]
    continuation: str = "class_mean_difference"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown recovery method(s): {', '.join(unknown)}")
        if self.continuation not in CONTINUATIONS:
            raise ValueError(
                f"unknown recovery continuation {self.continuation!r} (one of {CONTINUATIONS})"
            )


CURVE_SCHEMA = {
    "group": pl.Utf8,
    "target": pl.Utf8,
    "method": pl.Utf8,
    "n_features": pl.Int64,
    "split": pl.Utf8,
    "n_rows": pl.Int64,
    "n_positive": pl.Int64,
    "roc_auc": pl.Float64,
    "f1": pl.Float64,
    "balanced_accuracy": pl.Float64,
    "c": pl.Float64,
    "ranking": pl.Utf8,
    "n_nonzero": pl.Int64,
}
THRESHOLD_SCHEMA = {
    "group": pl.Utf8,
    "target": pl.Utf8,
    "method": pl.Utf8,
    "split": pl.Utf8,
    "dense_auc": pl.Float64,
    "fraction": pl.Float64,
    "n_features": pl.Float64,
}
SUMMARY_SCHEMA = {
    "method": pl.Utf8,
    "n_features": pl.Int64,
    "split": pl.Utf8,
    "n_targets": pl.Int64,
    "mean_auc": pl.Float64,
    "mean_dense_auc": pl.Float64,
    **{name: pl.Float64 for name in DEFINITIONS},
    "n_targets_continued": pl.Int64,
}


@dataclass(frozen=True)
class RecoveryResult:
    curves: pl.DataFrame
    thresholds: pl.DataFrame
    summary: pl.DataFrame


def _pca_features(
    dense: Features, train_rows: dict[str, np.ndarray], n_components: int, seed: int
) -> dict[str, Features]:
    """Per group, every loaded row projected on the PCs of that group's training rows."""
    projected = {}
    for group, rows in train_rows.items():
        x = dense.take(rows)
        k = min(n_components, x.shape[0], x.shape[1])
        pca = PCA(n_components=k, random_state=seed).fit(x)
        projected[group] = Features(dense.row_ids, pca.transform(dense.matrix))
    return projected


def _random_order(sparse: Features, train_rows: dict[str, np.ndarray], seed: int) -> np.ndarray:
    rows = np.unique(np.concatenate(list(train_rows.values())))
    active = np.flatnonzero(sparse.take(rows).getnnz(axis=0) > 0)
    return np.random.default_rng(seed).permutation(active)


def sae_feature_order(
    coefficient_order: np.ndarray, n_nonzero: int, x_train, y_train, continuation: str
) -> np.ndarray:
    """The probe's non-zero coefficients by |coefficient| (`coefficient_order` is that ranking,
    possibly padded with zero weights), then, unless `continuation` is "none", the remaining
    features active on the training rows by class-mean difference there (ties: lower index)."""
    probe_part = np.asarray(coefficient_order[:n_nonzero], dtype=np.int64)
    if continuation == "none":
        return probe_part
    score = np.nan_to_num(metrics.standardised_mean_difference(x_train, y_train), nan=0.0)
    score[probe_part] = 0.0
    rest = np.lexsort((np.arange(score.size), -score))
    return np.concatenate([probe_part, rest[score[rest] > 0]])


def _target_curves(
    target: Target,
    ranking: np.ndarray,
    n_nonzero: int,
    features: dict[str, Features],
    pca: Features,
    random_order: np.ndarray,
    rows: dict[str, np.ndarray],
    settings: RecoverySettings,
    fit_settings: FitSettings,
) -> list[dict]:
    y = {split: target.positive[rows[split]] for split in SPLITS}
    sae_order = sae_feature_order(
        ranking,
        n_nonzero,
        features["sparse"].take(rows["train"]),
        y["train"],
        settings.continuation,
    )
    sources = {
        "sae_top_coefficients": ("sparse", features["sparse"], sae_order),
        "pca": ("dense", pca, np.arange(pca.n_features)),
        "random_features": ("sparse", features["sparse"], random_order),
    }
    records = []
    for method in settings.methods:
        feature_type, block, order = sources[method]
        x = {split: block.take(rows[split]) for split in SPLITS}
        for n in (n for n in settings.n_values if n <= order.size):
            columns = order[:n]
            probe = fit_probe(
                x["train"][:, columns],
                y["train"],
                x["val"][:, columns],
                y["val"],
                fit_settings,
                feature_type,
            )
            if method == "sae_top_coefficients":
                # the coefficient table holds the top n_top_coefficients only
                in_probe = n <= min(n_nonzero, ranking.size)
                ranking_name = PROBE_RANKING if in_probe else CONTINUED_RANKING
            else:
                ranking_name = METHOD_RANKINGS[method]
            for split in SPLITS:
                records.append(
                    {
                        "group": target.group,
                        "target": target.name,
                        "method": method,
                        "n_features": n,
                        "split": split,
                        **score_probe(probe, x[split][:, columns], y[split]),
                        "c": probe.c,
                        "ranking": ranking_name,
                        "n_nonzero": n_nonzero if method == "sae_top_coefficients" else None,
                    }
                )
    return records


def threshold_table(
    curves: pl.DataFrame, dense_auc: dict, fractions: tuple[float, ...], split: str
) -> pl.DataFrame:
    """Smallest N reaching each fraction of the dense AUROC on `split` (NaN if none does);
    `dense_auc` maps (group, target) to that AUROC."""
    records = []
    reported = curves.filter(pl.col("split") == split)
    for (group, target, method), curve in reported.group_by(
        ["group", "target", "method"], maintain_order=True
    ):
        curve = curve.sort("n_features")
        aucs = curve["roc_auc"].fill_null(np.nan).to_list()
        for fraction in fractions:
            reached = metrics.n_features_to_reach(
                curve["n_features"].to_list(), aucs, dense_auc[(group, target)], fraction
            )
            records.append(
                (group, target, method, split, dense_auc[(group, target)], fraction, reached)
            )
    return pl.DataFrame(records, schema=THRESHOLD_SCHEMA, orient="row")


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan


def summary_table(curves: pl.DataFrame, probe_metrics: pl.DataFrame) -> pl.DataFrame:
    """Per method, N and split: the three recovery definitions over the targets in `curves`,
    with the full sparse probe as method sae_all_features."""
    dense = probe_metrics.filter(pl.col("feature_type") == "dense").select(
        "group", "target", "split", pl.col("roc_auc").alias("dense_auc")
    )
    full_sparse = probe_metrics.filter(pl.col("feature_type") == "sparse").select(
        "group",
        "target",
        pl.lit(FULL_SPARSE).alias("method"),
        pl.col("n_features").cast(pl.Int64),
        "split",
        "roc_auc",
    )
    continued = pl.col("ranking").eq_missing(CONTINUED_RANKING).alias("continued")
    curves = curves.select(*full_sparse.columns, continued)
    full_sparse = full_sparse.join(curves, on=["group", "target"], how="semi").with_columns(
        continued=pl.lit(False)
    )
    joined = pl.concat([curves, full_sparse]).join(
        dense, on=["group", "target", "split"], how="left"
    )
    records = []
    for (method, n, split), part in joined.group_by(
        ["method", "n_features", "split"], maintain_order=True
    ):
        auc = part["roc_auc"].fill_null(np.nan).to_numpy()
        dense_auc = part["dense_auc"].fill_null(np.nan).to_numpy()
        paired = int((np.isfinite(auc) & np.isfinite(dense_auc)).sum())
        records.append(
            (
                method,
                n,
                split,
                paired,
                _mean(auc),
                _mean(dense_auc),
                *(f(auc, dense_auc) for f in DEFINITIONS.values()),
                int(part["continued"].sum()),
            )
        )
    return pl.DataFrame(records, schema=SUMMARY_SCHEMA, orient="row").sort(
        "method", "split", "n_features"
    )


def _ranking(coefficients: pl.DataFrame, target: Target) -> np.ndarray:
    rows = coefficients.filter(
        (pl.col("feature_type") == "sparse")
        & (pl.col("group") == target.group)
        & (pl.col("target") == target.name)
    )
    return rows.sort("rank")["feature"].to_numpy()


def _n_nonzero(probe_metrics: pl.DataFrame, target: Target) -> int:
    """Non-zero coefficients of the target's full sparse probe."""
    rows = probe_metrics.filter(
        (pl.col("feature_type") == "sparse")
        & (pl.col("group") == target.group)
        & (pl.col("target") == target.name)
    )
    return int(rows["n_nonzero"][0])


def run_recovery(
    index: pl.DataFrame,
    store: CodeStore,
    load_dense: Callable[[np.ndarray], np.ndarray],
    probe_dir: Path,
    groups: dict[str, dict],
    fit_settings: FitSettings,
    dense_l2_normalise: bool,
    settings: RecoverySettings,
) -> RecoveryResult:
    """Recovery curves of the probe targets whose dense AUROC on the report split exceeds the
    cut-off (the others would be left out of every aggregate, so they are not refitted)."""
    _, probe_metrics, coefficients = read_probe_results(probe_dir)
    dense_auc = {
        (group, target): auc
        for group, target, auc in probe_metrics.filter(
            (pl.col("feature_type") == "dense") & (pl.col("split") == settings.report_split)
        )
        .select("group", "target", pl.col("roc_auc").fill_null(np.nan))
        .iter_rows()
    }
    kept = {key for key, auc in dense_auc.items() if auc > settings.min_dense_auc}
    for group, target in sorted(set(dense_auc) - kept):
        logger.info(
            "%s/%s: dense %s AUROC %.3f is not above %.2f, no recovery curve",
            group,
            target,
            settings.report_split,
            dense_auc[(group, target)],
            settings.min_dense_auc,
        )
    targets = [
        t
        for t in build_targets(index, groups)
        if isinstance(t, Target) and (t.group, t.name) in kept
    ]
    if len(targets) != len(kept):
        raise ValueError(f"{probe_dir}: the probe targets do not match the configured groups")
    records = []
    if targets:
        splits = index["split"].to_numpy()
        train_rows = read_train_rows(probe_dir)
        train_rows = {t.group: train_rows[t.group] for t in targets}
        features = load_features(
            needed_rows(splits, train_rows), store, load_dense, dense_l2_normalise
        )
        pca = _pca_features(
            features["dense"], train_rows, max(settings.n_values), fit_settings.seed
        )
        random_order = _random_order(features["sparse"], train_rows, fit_settings.seed)
        for target in targets:
            rows = evaluation_rows(target, splits, train_rows[target.group])
            records += _target_curves(
                target,
                _ranking(coefficients, target),
                _n_nonzero(probe_metrics, target),
                features,
                pca[target.group],
                random_order,
                rows,
                settings,
                fit_settings,
            )
            logger.info("recovery curves of %s/%s done", target.group, target.name)
    curves = pl.DataFrame(records, schema=CURVE_SCHEMA)
    return RecoveryResult(
        curves=curves,
        thresholds=threshold_table(curves, dense_auc, settings.fractions, settings.report_split),
        summary=summary_table(curves, probe_metrics),
    )
