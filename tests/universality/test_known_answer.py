"""Known answer: two synthetic encoders embed the same phantom slices. Each plants one direction
per organ it "sees"; they share a subset of organs and each sees a few of its own. SAEs trained
on them must align the shared organs' features and leave each encoder's own organs unique, and
features that stand for an organ must survive a change of training seed while features fitted
to the dense noise must not."""

import logging

import numpy as np
import polars as pl
import pytest

from sail_core.columns import STRUCTURE_PREFIX
from sail_core.sae import TrainConfig, encode_codes, load_sae, train_sae
from sail_core.sae.codes import CodeStore
from sail_core.universality.alignment import NullSettings, align_features
from sail_core.universality.matching import activation_correlation
from sail_core.universality.stability import SaeRun, TwinThresholds, seed_stability
from tests.fixtures import phantom_slice_table

N_SHARED, N_OWN = 4, 2
SAE = "D32_K4"
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def phantom_slices(tmp_path_factory) -> pl.DataFrame:
    return phantom_slice_table(tmp_path_factory.mktemp("phantom"), seed=5)


def distinct_organs(slices: pl.DataFrame, held_out: np.ndarray, n: int) -> list[str]:
    """`n` organs present on 8-30% of the slices (and on held-out ones), none strongly tied to
    another chosen one, so that one organ's feature cannot pass for another's (organs on most
    slices blend into the SAE's decoder bias)."""
    columns = [c for c in slices.columns if c.startswith(STRUCTURE_PREFIX)]
    presence = slices.select(columns).to_numpy().astype(np.float64)
    prevalence, held_out_prevalence = presence.mean(axis=0), presence[held_out].mean(axis=0)
    chosen: list[int] = []
    for column in np.argsort(-prevalence):
        if not (0.08 <= prevalence[column] <= 0.3 and held_out_prevalence[column] >= 0.05):
            continue
        tied = [abs(np.corrcoef(presence[:, column], presence[:, c])[0, 1]) for c in chosen]
        if not tied or max(tied) < 0.3:
            chosen.append(column)
    if len(chosen) < n:
        pytest.fail(f"the phantom has only {len(chosen)} distinct common organs, need {n}")
    return [columns[c] for c in chosen[:n]]


def encoder_embeddings(presence: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """One random unit direction per organ, scaled by a random strength where present, plus
    dense noise: an encoder whose features are the organs it sees."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(presence.shape[1], dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    strength = presence * rng.uniform(0.8, 1.2, size=presence.shape)
    noise = rng.normal(scale=0.05, size=(presence.shape[0], dim))
    return (strength @ directions + noise).astype(np.float32)


def trained_run(x, splits, seed, out_dir) -> tuple[SaeRun, np.ndarray]:
    config = TrainConfig(
        epochs=60, batch_size=64, input_norm="none", warmup_steps=20, lr=1e-2, seed=seed,
        log_every=200, checkpoint_every=10_000,
    )  # fmt: skip
    train_sae(x, splits, SAE, config, out_dir, source=f"synthetic encoder, seed {seed}")
    model = load_sae(out_dir)
    encode_codes(model, x, out_dir / "codes.zarr", chunk_rows=512, attrs={}, source="synthetic")
    codes = CodeStore(out_dir / "codes.zarr").read_rows(splits["val"])
    return SaeRun(model.W_dec.detach().numpy(), codes), codes


def organ_of_feature(
    codes, presence: np.ndarray, organs: list[str], min_correlation: float
) -> dict[int, str]:
    """Feature -> the organ whose presence it tracks (correlation >= min_correlation); an organ
    may have several features (the SAE may split it)."""
    correlation = activation_correlation(codes, presence.astype(np.float32), 1024)
    best = correlation.argmax(axis=1)
    return {
        int(f): organs[best[f]]
        for f in range(correlation.shape[0])
        if correlation[f, best[f]] >= min_correlation
    }


def best_features(codes, presence: np.ndarray) -> list[int]:
    """The feature that tracks each organ best."""
    correlation = activation_correlation(codes, presence.astype(np.float32), 1024)
    return sorted(set(correlation.argmax(axis=0).tolist()))


@pytest.mark.slow
def test_alignment_and_stability_recover_the_planted_concepts(phantom_slices, tmp_path):
    scans = (phantom_slices["modality"] + "/" + phantom_slices["image_id"]).to_numpy()
    rows = np.arange(phantom_slices.height)
    val_scans = np.unique(scans)[::3]
    is_val = np.isin(scans, val_scans)
    splits = {"train": rows[~is_val], "val": rows[is_val], "test": rows[:0]}
    organs = distinct_organs(phantom_slices, is_val, N_SHARED + 2 * N_OWN)
    shared, own_a, own_b = (
        organs[:N_SHARED],
        organs[N_SHARED : N_SHARED + N_OWN],
        organs[N_SHARED + N_OWN :],
    )
    sees = {"a": shared + own_a, "b": shared + own_b}

    every_organ = phantom_slices.select(organs).to_numpy()[is_val]
    runs, organ_of, clean = {}, {}, {}
    for name, dim, data_seed in (("a", 32, 1), ("b", 40, 2)):
        presence = phantom_slices.select(sees[name]).to_numpy().astype(np.float32)
        x = encoder_embeddings(presence, dim, data_seed)
        runs[name], codes = trained_run(x, splits, 0, tmp_path / name)
        organ_of[name] = organ_of_feature(codes, every_organ, organs, 0.5)
        clean[name] = organ_of_feature(codes, presence[is_val], sees[name], 0.8)
        if name == "a":
            runs["a_seed"], _ = trained_run(x, splits, 1, tmp_path / "a_seed")
            best_of_organ = best_features(codes, presence[is_val])
            # features fitted to the noise: not even weakly tied to any organ
            tied = organ_of_feature(codes, every_organ, organs, 0.3)
            noise_a = [f for f in range(codes.shape[1]) if f not in tied]
    log.info("organ features: %s", organ_of)
    for name in ("a", "b"):
        assert set(clean[name].values()) == set(sees[name]), "an organ has no SAE feature"

    table, summary = align_features(
        runs["a"].codes, runs["b"].codes, scans[is_val], NullSettings(20, 0.99, 0), 256
    )
    log.info("alignment summary: %s", summary)
    pairs = table.filter((pl.col("side") == "a") & (pl.col("twin") >= 0))
    organ_pairs = [
        (organ_of["a"].get(a), organ_of["b"].get(b))
        for a, b in zip(pairs["feature"], pairs["twin"], strict=True)
    ]
    log.info("shared pairs as organs: %s", organ_pairs)
    # a concept is found shared when a twin pair tracks it on both sides
    found = {oa for oa, ob in organ_pairs if oa is not None and oa == ob}
    assert len(found & set(shared)) / len(shared) >= 0.9, (found, shared)
    assert len(found & set(shared)) / max(len(found), 1) >= 0.9, (found, shared)
    for side, own in (("a", own_a), ("b", own_b)):
        unique = set(sees[side]) - found
        assert len(unique & set(own)) / len(own) >= 0.9, (side, unique, own)
        assert len(unique & set(own)) / max(len(unique), 1) >= 0.9, (side, unique, own)

    _, stability = seed_stability(
        runs["a"], {1: runs["a_seed"]}, [32], TwinThresholds(0.5, 0.5), 256
    )
    planted_rows = stability.filter(pl.col("feature").is_in(best_of_organ))
    noise_rows = stability.filter(pl.col("active") & pl.col("feature").is_in(noise_a))
    log.info("stability of organ features:\n%s\nof noise features:\n%s", planted_rows, noise_rows)
    assert planted_rows["stable"].mean() >= 0.9
    assert planted_rows["stability"].mean() >= 0.6
    assert noise_rows.height >= 5
    assert noise_rows["stable"].mean() <= 0.2
    assert noise_rows["stability"].mean() <= 0.2
