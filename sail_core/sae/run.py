"""One `train_sae` job: checks, training, calibration, evaluation and the output files.

Writes into `out_dir`: model.safetensors + config.json (the calibrated model with the input
normalisation folded in), metrics.json (train/val/test metrics, see evaluate.py),
history.parquet (training and validation curves) and checkpoints/ (last.pt to resume an
interrupted run, best.pt the best-on-validation weights).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import torch

from sail_core.columns import SPLITS
from sail_core.embed.precision import resolve_precision
from sail_core.io import write_json, write_parquet
from sail_core.operational_settings import OPERATIONAL_SETTINGS
from sail_core.sae.calibrate import calibrate_threshold
from sail_core.sae.config import TrainConfig, parse_sae_name
from sail_core.sae.data import (
    BYTES_PER_VALUE,
    check_rows,
    iter_row_chunks,
    read_rows,
    train_source,
)
from sail_core.sae.evaluate import evaluate_split
from sail_core.sae.export import save_sae
from sail_core.sae.initialise import (
    bias_sample_positions,
    fit_input_normalisation,
    init_decoder_bias,
)
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.trainer import Trainer

logger = logging.getLogger(__name__)

NON_RESULT_KEYS = OPERATIONAL_SETTINGS["sae.training"]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def split_batches(view, rows: np.ndarray, batch_size: int, device: torch.device) -> Iterator:
    for _, chunk in iter_row_chunks(view, rows, batch_size):
        yield torch.from_numpy(chunk).to(device)


def resident_split(
    view, split_rows: dict[str, np.ndarray], split: str, memory_budget_mb: int
) -> tuple[object, np.ndarray]:
    """(view, rows) to read `split` from: its rows read once into memory when they fit the
    budget beside the train split (validation reads them every epoch), else the view itself."""
    needed_mb = sum(
        split_rows[name].size * view.shape[1] * BYTES_PER_VALUE / 2**20 for name in ("train", split)
    )
    if needed_mb > memory_budget_mb:
        return view, split_rows[split]
    return read_rows(view, split_rows[split]), np.arange(split_rows[split].size)


def split_metrics(
    model: MatryoshkaSAE, view, split_rows: dict, batch_size: int, dense_threshold: float
) -> dict:
    """metrics.json's per-split part: `evaluate_split` over the rows of every non-empty split,
    on the model's device."""
    device = model.W_enc.device
    return {
        split: evaluate_split(model, split_batches(view, rows, batch_size, device), dense_threshold)
        for split, rows in split_rows.items()
        if rows.size
    }


def _fingerprint(name: str, config: TrainConfig, d_in: int, split_rows: dict, index_hash) -> str:
    settings = {k: v for k, v in config.to_dict().items() if k not in NON_RESULT_KEYS}
    rows = {
        s: hashlib.sha256(np.ascontiguousarray(r).tobytes()).hexdigest()
        for s, r in split_rows.items()
    }
    blob = json.dumps([name, settings, d_in, rows, index_hash], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _calibration_rows(
    split_rows: dict[str, np.ndarray], config: TrainConfig
) -> tuple[str, np.ndarray]:
    split = "val" if split_rows["val"].size else "train"
    if split == "train":
        logger.warning("the val split is empty: calibrating the threshold on train rows")
    rows = split_rows[split]
    if rows.size > config.calibration_max_rows:
        generator = np.random.default_rng(config.seed)
        rows = np.sort(generator.choice(rows, config.calibration_max_rows, replace=False))
    return split, rows


def train_sae(
    view,
    split_rows: dict[str, np.ndarray],
    name: str,
    config: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    source: str,
    expected_dim: int | None = None,
    provenance: dict | None = None,
) -> dict:
    """Train the SAE `name` on the rows of `view` (N, d) and write its outputs into out_dir.

    `split_rows` maps train/val/test to sorted row ids; `source` names the data in errors.
    Every check runs before training starts. Returns the metrics.
    """
    spec = parse_sae_name(name)
    split_rows = {s: np.asarray(split_rows.get(s, []), dtype=np.int64) for s in SPLITS}
    d_in = view.shape[1]
    if expected_dim is not None and d_in != expected_dim:
        raise ValueError(
            f"{source}: embeddings have {d_in} dimensions, the config says {expected_dim}"
        )
    check_rows(view, split_rows, config.batch_size, source)
    provenance = dict(provenance or {})
    out_dir = Path(out_dir)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)

    model = MatryoshkaSAE(spec, d_in, config.selection, config.input_norm)
    model.reset_parameters(torch.Generator().manual_seed(config.seed))
    fit_input_normalisation(model, view, split_rows["train"], config.batch_size)
    model.to(device)
    precision = resolve_precision(config.precision, device)
    model.bf16_compute = precision == "bf16"
    logger.info("SAE encoder precision %s (configured %s)", precision, config.precision)
    train = train_source(
        view, split_rows["train"], config.memory_budget_mb, model.normalise, device
    )
    init_decoder_bias(
        model, train.take(bias_sample_positions(train.n_rows, config.seed)), config.b_dec_init
    )

    val_view, val_rows = resident_split(view, split_rows, "val", config.memory_budget_mb)

    def val_batches():
        return split_batches(val_view, val_rows, config.batch_size, device)

    fingerprint = _fingerprint(name, config, d_in, split_rows, provenance.get("index_hash"))
    trainer = Trainer(
        model,
        train,
        val_batches if split_rows["val"].size else None,
        config,
        out_dir / "checkpoints",
        fingerprint,
    )
    outcome = trainer.run()

    selected_step = outcome.best_step if config.select_checkpoint == "best" else outcome.steps
    if config.select_checkpoint == "best":
        model.load_state_dict(outcome.best_model)
    calibration_split, calibration_rows = _calibration_rows(split_rows, config)
    threshold = calibrate_threshold(
        model,
        split_batches(view, calibration_rows, config.batch_size, device),
        calibration_rows.size,
        spec.k_inference,
    )
    model.threshold.fill_(threshold)
    model.fold_normalisation()

    metrics = split_metrics(model, view, split_rows, config.batch_size, config.dense_threshold)
    achieved = metrics[calibration_split]["overall"]["l0_inference"]
    within = abs(achieved - spec.k_inference) <= config.calibration_tolerance * spec.k_inference
    if not within:
        logger.warning(
            "calibrated inference L0 %.2f misses k=%d by more than %.0f%%",
            achieved,
            spec.k_inference,
            100 * config.calibration_tolerance,
        )
    calibration = {
        "split": calibration_split,
        "rows": int(calibration_rows.size),
        "target_l0": spec.k_inference,
        "achieved_l0": achieved,
        "tolerance": config.calibration_tolerance,
        "within_tolerance": bool(within),
        "threshold": threshold,
    }
    metrics["calibration"] = calibration
    metrics["training"] = {
        "steps": outcome.steps,
        "selected_checkpoint": config.select_checkpoint,
        "selected_step": selected_step,
        "best_step": outcome.best_step,
        "best_val_fvu_mean": outcome.best_val if np.isfinite(outcome.best_val) else None,
        "lr": config.learning_rate(spec.n_latents),
    }

    extra = {
        **provenance,
        "seed": config.seed,
        "fingerprint": fingerprint,
        "input_norm_trained": config.input_norm,
        "training": config.to_dict(),
        "precision_resolved": precision,
        "calibration": calibration,
        "selected_checkpoint": config.select_checkpoint,
        "selected_step": selected_step,
        "rows": {split: int(rows.size) for split, rows in split_rows.items()},
        "torch": torch.__version__,
    }
    save_sae(model, out_dir, extra)
    write_json(out_dir / "metrics.json", {**metrics, "seed": config.seed, "name": name})
    write_parquet(
        pl.from_dicts(outcome.history, infer_schema_length=None),
        out_dir / "history.parquet",
        metadata={"seed": str(config.seed), "sae": name, "fingerprint": fingerprint},
    )
    return metrics
