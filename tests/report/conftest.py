"""A small results tree in the pipeline's layout, written with the stages' own table builders
where they are cheap (summary, ranking, label evaluation summary, panels)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sail_core.data.index import write_index
from sail_core.data.store import SliceReader
from sail_core.evaluate.ranking import rank_configs
from sail_core.evaluate.summary import build_summary
from sail_core.io import write_json, write_parquet
from sail_core.label.evaluate.run import RESULT_SCHEMA, summarise
from sail_core.mine.panels import montage
from sail_core.report.atlas import AtlasSettings
from sail_core.report.figures import write_example_slices, write_sae_figures
from sail_core.report.files import DataFiles, SaeFiles
from tests.fixtures import write_slice_store

ENCODER = "enc"
SELECTED = "D8-32_K2-4"
OTHER = "D16-64_K4-8"
LABELLER = "offline"
SIZE = 32
SCANS = {
    ("ct", "s0000"): ("train", {"axial": 6, "coronal": 4}),
    ("ct", "s0001"): ("val", {"axial": 5, "coronal": 4}),
    ("ct", "s0002"): ("test", {"axial": 6, "sagittal": 3}),
    ("mri", "s0000"): ("test", {"axial": 5}),
}
EVIL_LABEL = "<script>alert(1)</script>"
EVIL_INSTITUTE = '<img src=x onerror="alert(2)">'
N_FEATURES = 12
LABELLED = (3, 5, 7, 1)


@dataclass(frozen=True)
class ResultsTree:
    root: Path
    data: DataFiles
    saes: list[SaeFiles]
    settings: AtlasSettings


def _phantom_slice(rng, position: int, n: int) -> np.ndarray:
    """A body-like ellipse with a bright blob that moves with the slice position."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE - 0.5
    body = (x / 0.42) ** 2 + (y / 0.32) ** 2 < 1
    blob = (x - 0.15 + 0.3 * position / max(n, 1)) ** 2 + (y + 0.05) ** 2 < 0.01
    image = 60 * body + 150 * blob + rng.integers(0, 25, (SIZE, SIZE))
    return image.clip(0, 255).astype(np.uint8)


def _write_slices(root: Path) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    tables = []
    for (modality, image_id), (split, orientations) in SCANS.items():
        slices, scan_tables = {}, []
        for orientation, n in orientations.items():
            slices[orientation] = np.stack([_phantom_slice(rng, k, n) for k in range(n)])
            scan_tables.append(
                pl.DataFrame(
                    {
                        "modality": modality,
                        "image_id": image_id,
                        "orientation": orientation,
                        "index": pl.Series(np.arange(10, 10 + n), dtype=pl.Int32),
                        "array_pos": pl.Series(np.arange(n), dtype=pl.Int32),
                        "split": split,
                        "gender": "f" if image_id == "s0001" else "m",
                        "age": 70.0,
                        "institute": EVIL_INSTITUTE,
                        "structure_liver": pl.Series(np.arange(n) % 2 == 0),
                    }
                )
            )
        table = pl.concat(scan_tables)
        write_slice_store(root / "slices", modality, image_id, slices, table)
        tables.append(table)
    index = (
        pl.concat(tables)
        .sort("modality", "image_id", "orientation", "index")
        .with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64))
    )
    write_index(index, root / "slices" / "index.parquet")
    return index


def _write_meta(data: DataFiles) -> None:
    data.split_summary.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"split": ["test", "train", "val"], "scans": [2, 1, 1], "slices": [14, 10, 9]}
    ).write_csv(data.split_summary, separator="\t")
    write_parquet(
        pl.DataFrame(
            {
                "modality": ["ct"],
                "image_id": ["s0099"],
                "path": ["/data/ct/s0099/ct.nii.gz"],
                "reason": ["<b>truncated</b> gzip stream"],
            }
        ),
        data.quarantine,
    )


def _sae_metrics(name: str, fvu: float) -> dict:
    def split_result(offset: float) -> dict:
        levels = [
            {
                "width": width,
                "k": k,
                "inference": {
                    "fvu": fvu * scale + offset,
                    "r2_global_mean": 1 - fvu * scale - offset,
                    "l0": float(k),
                    "dead_fraction": 0.1,
                    "mse": 0.01,
                    "cosine": 0.9,
                    "n": 10,
                },
                "batchtopk": {"fvu": fvu * scale, "l0": float(k), "n": 10},
            }
            for width, k, scale in ((8, 2, 1.5), (32, 4, 1.0))
        ]
        overall = dict(levels[-1]["inference"])
        overall |= {
            "l0_inference": overall.pop("l0"),
            "l0_batchtopk": 4.0,
            "dense_fraction": 0.0,
            "dense_threshold": 0.1,
            "threshold": 0.2,
        }
        return {"n_rows": 10, "levels": levels, "overall": overall}

    calibration = {"split": "val", "rows": 9, "target_l0": 4, "achieved_l0": 4.1,
                   "tolerance": 0.05, "within_tolerance": True, "threshold": 0.2}  # fmt: skip
    return {
        "train": split_result(0.0),
        "val": split_result(0.02),
        "test": split_result(0.03),
        "calibration": calibration,
        "seed": 0,
        "name": name,
    }


def _history() -> pl.DataFrame:
    rows = []
    for step in range(0, 201, 20):
        rows.append(
            {"step": step, "epoch": step // 100, "lr": 1e-3, "loss": 1 / (1 + step / 50),
             "auxk_loss": 0.01, "dead_fraction": 0.5 * np.exp(-step / 60),
             "train_fvu_level_0": 0.6 - step / 1000, "train_fvu_level_1": 0.4 - step / 1000}
        )  # fmt: skip
        if step % 100 == 0 and step:
            rows.append(
                {"step": step, "epoch": step // 100, "val_fvu_mean": 0.45,
                 "val_fvu_level_0": 0.55 - step / 2000, "val_fvu_level_1": 0.35 - step / 2000}
            )  # fmt: skip
    return pl.from_dicts(rows, infer_schema_length=None)


def _recovery_summary() -> pl.DataFrame:
    rows = []
    for split in ("train", "val", "test"):
        for method, gain in (
            ("sae_top_coefficients", 0.35),
            ("pca", 0.3),
            ("random_features", 0.1),
        ):
            for n in (1, 2, 5, 10):
                auc = 0.5 + gain * (1 - np.exp(-n / 3))
                rows.append(
                    {"method": method, "n_features": n, "split": split, "n_targets": 3,
                     "mean_auc": auc, "mean_dense_auc": 0.9, "ratio_of_means": auc / 0.9,
                     "mean_of_ratios": auc / 0.9, "chance_corrected": (auc - 0.5) / 0.4}
                )  # fmt: skip
    return pl.DataFrame(rows)


def _write_eval(files: SaeFiles, ranking: pl.DataFrame, sae_metrics: dict) -> None:
    recovery = _recovery_summary()
    write_parquet(recovery, files.recovery)
    mono = pl.DataFrame(
        {
            "feature": pl.Series(range(N_FEATURES), dtype=pl.Int32),
            "n_retrieved": [10] * N_FEATURES,
            "coherence_10": np.linspace(0.2, 0.9, N_FEATURES),
            "specificity_10": np.linspace(0.3, 0.6, N_FEATURES),
            "monosemanticity_10": np.linspace(0.0, 0.4, N_FEATURES),
        }
    )
    write_parquet(mono, files.feature_monosemanticity)
    scores = pl.DataFrame(
        {"statistic": ["m10_top10_mean", "m10_top50_mean", "n_features_scored"],
         "value": [0.31, 0.12, float(N_FEATURES)]}
    )  # fmt: skip
    fingerprint = pl.DataFrame(
        {"method": ["sparse_fp", "dense_fp", "dense_full"], "k": [5, 5, None],
         "n_references": [20, 20, 20], "quality": [0.5, 0.6, 0.8], "quality_sd": [0.1] * 3,
         "structure_jaccard": [0.4, 0.45, 0.5], "relative_to_dense_full": [0.625, None, None],
         "relative_to_dense_fp": [0.83, None, None]}
    )  # fmt: skip
    detection = pl.DataFrame(
        {"stratum": ["all", "all"], "structure": ["liver", "heart"], "n_positive": [17, 5],
         "prevalence": [0.5, 0.15],
         "best_feature": pl.Series([3, 5], dtype=pl.Int32), "heldout_auroc": [0.95, 0.7],
         "insample_auroc": [0.97, 0.8], "threshold": [0.9, 0.9],
         "n_features_reaching_insample": [1, 0], "selected_on": ["train"] * 2,
         "scored_on": ["test"] * 2}
    )  # fmt: skip
    summary = build_summary(
        files.encoder, files.sae, sae_metrics, recovery, scores, fingerprint, detection,
        ranking, common_prevalence=0.05, recovery_n=10, fingerprint_k=5, report_split="val",
    )  # fmt: skip
    write_json(files.summary, summary)


def _write_features(files: SaeFiles) -> None:
    features = np.arange(N_FEATURES, dtype=np.int32)
    n_fires = np.where(features == 11, 0, 40 - 3 * features)
    write_parquet(
        pl.DataFrame(
            {"feature": features, "n_fires": n_fires, "frequency": n_fires / 100,
             "mean_when_active": np.full(N_FEATURES, 0.5),
             "max_activation": np.full(N_FEATURES, 1.2),
             "n_scans": np.minimum(n_fires, 4), "dead": n_fires == 0}
        ),
        files.stats,
    )  # fmt: skip
    write_parquet(
        pl.DataFrame(
            {"feature": pl.Series([3, 3, 5], dtype=pl.Int32),
             "attribute": ["structure", "orientation", "modality"],
             "value": ["liver", "axial", "mri"], "count": [8, 6, 5], "n_top": [10, 10, 10],
             "base_count": [17, 16, 5], "base_total": [33, 33, 33], "top_rate": [0.8, 0.6, 0.5],
             "base_rate": [0.5, 0.48, 0.15], "lift": [1.6, 1.25, 3.3],
             "log_odds_ratio": [1.2, 0.5, 1.7]}
        ),
        files.enrichment,
    )  # fmt: skip
    files.panels.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for feature in features[n_fires > 0]:
        tiles = np.stack([_phantom_slice(rng, k, 5) for k in range(5)])
        captions = [f"ct/s000{k} axi {10 + k}\n0.9" for k in range(5)]
        montage(tiles, captions, f"feature {feature}", 48, 5).save(files.panel(int(feature)))


def _write_labels(files: SaeFiles) -> None:
    texts = {3: "Axial CT of the liver", 5: EVIL_LABEL, 7: "Coronal MRI & T2 <pelvis>", 1: None}
    write_parquet(
        pl.DataFrame(
            {
                "feature": list(LABELLED),
                "selection": ["top", "top", "top", "random"],
                "selection_score": [0.9, 0.8, 0.7, None],
                "label": [texts[f] for f in LABELLED],
                "key_structures": [["liver"], ["heart"], ["urinary_bladder"], []],
                "modality": ["ct", "any", "mri", "any"],
                "orientation": ["axial", "any", "coronal", "any"],
                "sex": ["any"] * 4,
                "age_group": ["any"] * 4,
                "status": ["ok", "ok", "ok", "parse_failed"],
                "error": [None, None, None, "not valid JSON"],
                "labeller": [LABELLER] * 4,
            }
        ),
        files.labels,
    )
    evaluation = pl.DataFrame(
        [
            {"feature": 3, "selection": "top", "label": texts[3], "contrastive_status": "ok",
             "n_candidates": 5, "true_rank": 1, "success": True, "detection_status": "ok",
             "auroc": 0.9, "auroc_random": 0.95, "auroc_hard": 0.8},
            {"feature": 5, "selection": "top", "label": EVIL_LABEL, "contrastive_status": "ok",
             "n_candidates": 5, "true_rank": 4, "success": False, "detection_status": "ok",
             "auroc": 0.6, "auroc_random": 0.7, "auroc_hard": 0.5},
            {"feature": 7, "selection": "top", "label": texts[7],
             "contrastive_status": "no_heldout", "detection_status": "no_heldout"},
            {"feature": 1, "selection": "random", "label": None,
             "contrastive_status": "not_labelled", "detection_status": "not_labelled"},
        ],
        schema=RESULT_SCHEMA,
    )  # fmt: skip
    write_parquet(evaluation, files.label_evaluation)
    write_json(
        files.label_evaluation_summary,
        {"judge": {"judge": "offline", "note": "metadata matcher", "cost_usd": 0.0},
         "results": summarise(evaluation)},
    )  # fmt: skip


def _write_retrieval(files: SaeFiles, index: pl.DataFrame) -> None:
    queries = [("ct_liver", "Axial CT of the liver"), ("mri_pelvis", "Axial MRI of the pelvis")]
    write_parquet(
        pl.DataFrame(
            {"query": ["ct_liver"], "text": [queries[0][1]], "order": [1], "feature": [5],
             "label": [EVIL_LABEL], "similarity": [0.71]}
        ),
        files.retrieval("matches.parquet"),
    )  # fmt: skip
    hits = index.filter(pl.col("split") == "test").head(4)
    write_parquet(
        hits.select(
            "row_id", "modality", "image_id", "orientation", "index", "gender", "age"
        ).with_columns(
            pl.Series("rank", range(1, hits.height + 1)),
            pl.Series("score", np.linspace(1, 0.5, hits.height)),
            pl.lit("ct_liver").alias("query"),
            pl.lit("cosine").alias("scoring"),
            (pl.col("modality") == "ct").alias("relevant_modality"),
            pl.Series("relevant_anatomy", [True, False, True, True]),
        ),
        files.retrieval("results.parquet"),
    )
    precision = [
        (q, "cosine", d, p)
        for q, d, p in (("ct_liver", "modality", 0.3), ("ct_liver", "anatomy", 0.3),
                        ("mri_pelvis", "modality", 0.0), ("mri_pelvis", "orientation", 0.0))
    ]  # fmt: skip
    write_parquet(
        pl.DataFrame(precision, schema=["query", "scoring", "dimension", "precision_at_k"],
                     orient="row").with_columns(pl.lit(10).alias("k")),
        files.retrieval("precision.parquet"),
    )  # fmt: skip
    write_json(
        files.retrieval("summary.json"),
        {"matcher": "offline", "split": "test", "k": 10, "n_candidate_features": 1,
         "n_queries": 2, "queries_without_match": ["mri_pelvis"],
         "mean_precision_at_k": {"cosine": {
             "modality": {"precision": 0.15, "n_queries": 2},
             "anatomy": {"precision": 0.3, "n_queries": 1},
             "orientation": {"precision": 0.0, "n_queries": 1}}}},
    )  # fmt: skip


def tree_at(root: Path) -> ResultsTree:
    settings = AtlasSettings(
        title="SAIL feature atlas", max_features=50, enrichment_rows=5, thumbnail_px=48,
        report_split="val",
    )  # fmt: skip
    return ResultsTree(
        root, DataFiles(root), [SaeFiles(root, ENCODER, SELECTED, LABELLER)], settings
    )


def build_results_tree(root: Path) -> ResultsTree:
    tree = tree_at(root)
    data, selected = tree.data, tree.saes[0]
    index = _write_slices(root)
    _write_meta(data)
    ranking = rank_configs(
        pl.DataFrame(
            {"encoder": [ENCODER] * 2, "sae": [SELECTED, OTHER],
             "mono_statistic": ["m10_top10_mean"] * 2, "mono_value": [0.31, 0.2],
             "perf_statistic": ["mean_n_features"] * 2, "perf_value": [2.0, 3.0],
             "n_targets": [3, 3]}
        ),
        "mean_n_features",
    )  # fmt: skip
    write_parquet(ranking, data.ranking(ENCODER))
    for sae, fvu in ((SELECTED, 0.2), (OTHER, 0.15)):
        write_json(data.sae_metrics(ENCODER, sae), _sae_metrics(sae, fvu))
    history = selected.history
    write_parquet(_history(), history)
    _write_eval(selected, ranking, _sae_metrics(SELECTED, 0.2))
    _write_features(selected)
    _write_labels(selected)
    _write_retrieval(selected, index)
    write_sae_figures(
        history, selected.recovery, selected.metrics, "val",
        selected.training_curves, selected.recovery_curves,
    )  # fmt: skip
    write_example_slices(data.index, SliceReader(data.slices_dir), 3, data.example_slices)
    return tree


@pytest.fixture(scope="session")
def template_tree(tmp_path_factory) -> ResultsTree:
    return build_results_tree(tmp_path_factory.mktemp("template") / "results")


@pytest.fixture
def results_tree(tmp_path, template_tree) -> ResultsTree:
    """A fresh copy of the tree for a test to change."""
    shutil.copytree(template_tree.root, tmp_path / "results")
    return tree_at(tmp_path / "results")


@pytest.fixture
def bare_results_tree(results_tree) -> ResultsTree:
    """The tree without the report's own figures, for the rules to make."""
    shutil.rmtree(results_tree.root / "report")
    return results_tree
