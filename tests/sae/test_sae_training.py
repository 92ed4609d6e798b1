import json
import logging

import numpy as np
import polars as pl
import pytest
import torch
from safetensors.torch import load_file

from sail_core.sae import TrainConfig, load_sae, train_sae
from sail_core.sae.trainer import Trainer


def planted(n: int, d: int, n_atoms: int, active: int, seed: int):
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(n_atoms, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = np.zeros((n, n_atoms))
    for row in codes:
        row[rng.choice(n_atoms, active, replace=False)] = rng.uniform(0.5, 1.5, active)
    return (codes @ atoms).astype(np.float32), atoms


SPLITS = {"train": np.arange(0, 2400), "val": np.arange(2400, 2700), "test": np.arange(2700, 3000)}
FAST = dict(batch_size=128, warmup_steps=20, lr=3e-3, log_every=5, checkpoint_every=1000)


@pytest.fixture(scope="module")
def planted_data():
    return planted(3000, 32, 32, 3, seed=0)


@pytest.mark.parametrize(("name", "mean_cos"), [("D64_K3", 0.98), ("D8-64_K3", 0.95)])
def test_planted_sparse_features_are_recovered(planted_data, tmp_path, name, mean_cos):
    x, atoms = planted_data
    config = TrainConfig(epochs=40, input_norm="none", **FAST)
    metrics = train_sae(x, SPLITS, name, config, tmp_path, source="planted")
    learned = torch.nn.functional.normalize(load_sae(tmp_path).W_dec, dim=1).numpy()
    best_match = (atoms @ learned.T).max(axis=1)
    assert best_match.mean() > mean_cos
    assert (best_match > 0.9).mean() >= 0.9
    assert metrics["test"]["overall"]["fvu"] < 0.1


def test_outputs_metrics_and_reproducibility(planted_data, tmp_path):
    x, _ = planted_data
    config = TrainConfig(epochs=3, input_norm="center_scale", **FAST)
    name = "D16-48_K2-4"
    metrics = train_sae(
        x, SPLITS, name, config, tmp_path / "a", source="planted", provenance={"encoder": "e"}
    )
    out = tmp_path / "a"
    for file in ("model.safetensors", "config.json", "metrics.json", "history.parquet"):
        assert (out / file).exists()
    assert (out / "checkpoints" / "last.pt").exists() and (out / "checkpoints" / "best.pt").exists()

    saved = json.loads((out / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        levels = saved[split]["levels"]
        assert [level["width"] for level in levels] == [16, 48]
        assert [level["batchtopk"]["l0"] for level in levels] == pytest.approx([2, 4])
        for level in levels:
            for key in ("fvu", "r2_global_mean", "mse", "cosine", "l0", "dead_fraction"):
                assert key in level["inference"]
        overall = saved[split]["overall"]
        assert overall["r2_global_mean"] >= 1 - overall["fvu"] - 1e-9
    assert saved["calibration"]["within_tolerance"]
    assert metrics["val"]["overall"]["l0_inference"] == pytest.approx(4, rel=0.05)

    config_json = json.loads((out / "config.json").read_text())
    assert config_json["input_norm"] == "none"  # folded into the weights
    assert config_json["input_norm_trained"] == "center_scale"
    assert config_json["seed"] == 0 and config_json["encoder"] == "e"
    history = pl.read_parquet(out / "history.parquet")
    assert {"step", "loss", "train_fvu_level_0", "val_fvu_mean"} <= set(history.columns)

    train_sae(x, SPLITS, name, config, tmp_path / "b", source="planted")
    first, second = (
        load_file(out / "model.safetensors"),
        load_file(tmp_path / "b" / "model.safetensors"),
    )
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_resume_repeats_the_uninterrupted_run_bitwise(planted_data, tmp_path, monkeypatch):
    x, _ = planted_data
    config = TrainConfig(
        epochs=3,
        input_norm="l2",
        batch_size=128,
        warmup_steps=5,
        log_every=4,
        checkpoint_every=7,
        dead_window_samples=500,
    )
    name = "D16-48_K3"
    train_sae(x, SPLITS, name, config, tmp_path / "whole", source="planted")

    original_step = Trainer.step
    calls = {"n": 0}

    def crashing_step(self, x_batch, step):
        calls["n"] += 1
        if calls["n"] == 30:
            raise RuntimeError("simulated crash")
        return original_step(self, x_batch, step)

    monkeypatch.setattr(Trainer, "step", crashing_step)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_sae(x, SPLITS, name, config, tmp_path / "resumed", source="planted")
    monkeypatch.setattr(Trainer, "step", original_step)
    assert (tmp_path / "resumed" / "checkpoints" / "last.pt").exists()
    train_sae(x, SPLITS, name, config, tmp_path / "resumed", source="planted")

    whole = load_file(tmp_path / "whole" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)
    assert pl.read_parquet(tmp_path / "whole" / "history.parquet").equals(
        pl.read_parquet(tmp_path / "resumed" / "history.parquet")
    )


def test_streamed_training_when_the_split_exceeds_the_budget(planted_data, tmp_path, caplog):
    x, _ = planted_data
    big = np.tile(x, (1, 40))  # 1280 dims: the 2400 train rows need 11.7 MiB
    config = TrainConfig(epochs=1, memory_budget_mb=4, input_norm="l2", **FAST)
    with caplog.at_level(logging.INFO, logger="sail_core.sae.data"):
        metrics = train_sae(big, SPLITS, "D32_K4", config, tmp_path, source="planted")
    assert "streamed" in caplog.text
    assert np.isfinite(metrics["test"]["overall"]["fvu"])


def _no_outputs(path):
    return not path.exists() or not any(path.iterdir())


@pytest.mark.parametrize(
    ("mutate", "name", "expected_dim", "reason"),
    [
        (
            lambda x, s: x.__setitem__((2500, 3), np.nan),
            "D16_K2",
            None,
            "val rows contain NaN or inf",
        ),
        (lambda x, s: x.__setitem__((7, 0), np.inf), "D16_K2", None, r"row ids 7\)"),
        (
            lambda x, s: s.__setitem__("train", np.array([], dtype=np.int64)),
            "D16_K2",
            None,
            "train split is empty",
        ),
        (lambda x, s: None, "D16_K2", 64, "32 dimensions, the config says 64"),
        (lambda x, s: None, "D16_K32", None, "larger than its width"),
        (lambda x, s: None, "D64-16_K2-4", None, "strictly increasing"),
    ],
)
def test_bad_input_fails_before_training(
    planted_data, tmp_path, mutate, name, expected_dim, reason
):
    x = planted_data[0].copy()
    splits = dict(SPLITS)
    mutate(x, splits)
    with pytest.raises(ValueError, match=reason):
        train_sae(
            x,
            splits,
            name,
            TrainConfig(**FAST),
            tmp_path / "out",
            source="encoder e",
            expected_dim=expected_dim,
        )
    assert _no_outputs(tmp_path / "out")
