import json
import math

import numpy as np
import polars as pl
import pytest

from sail_core.data.store import SliceReader
from sail_core.label.activations import Activations, top_per_scan
from sail_core.label.evaluate.contrastive import draw_candidates, summarise_ranks, true_rank
from sail_core.label.evaluate.detection import detection_scores
from sail_core.label.evaluate.heldout import sample_negatives
from sail_core.label.evaluate.judges import label_fit
from sail_core.label.evaluate.run import EvaluationSettings, evaluate_labels
from sail_core.label.evidence import SampleMeta
from sail_core.label.offline import OfflineLabeller
from sail_core.label.run import (
    SelectionSettings,
    choose_features,
    label_selection,
    make_judge,
)

LABELS = {1: "Axial CT, liver", 2: "Axial CT, brain", 3: "axial ct, LIVER", 4: "MRI, pelvis"}
LABELS |= {f: f"Coronal CT, region {f}" for f in range(5, 30)}
SETTINGS = EvaluationSettings("val", 4, 5, 10, 5, 5, 0.5, 0, 256, 64)


def test_distractors_are_seeded_and_never_the_target_or_its_twin():
    draw = draw_candidates(1, LABELS, 4, seed=0)
    assert draw == draw_candidates(1, LABELS, 4, seed=0)
    assert any(
        draw_candidates(f, LABELS, 4, seed=1) != draw_candidates(f, LABELS, 4, seed=0)
        for f in LABELS
    )
    for feature in LABELS:
        d = draw_candidates(feature, LABELS, 4, seed=7)
        assert feature not in d.distractors and len(set(d.distractors)) == 4
        assert sorted(d.order) == [0, 1, 2, 3, 4]
    assert 3 not in draw_candidates(1, LABELS, 25, seed=0).distractors


def test_the_true_rank_follows_the_shuffle():
    order = [2, 0, 1]
    assert true_rank([1, 0, 2], order) == 1
    assert true_rank([0, 2, 1], order) == 3


def test_rank_summary_on_a_hand_built_case():
    summary = summarise_ranks([1, 2, 3, 5], [5, 5, 5, 5], n_failures=1)
    assert summary["success_rate"] == 0.5
    assert summary["chance_success_rate"] == pytest.approx(0.4)
    assert summary["mean_rank"] == 2.75 and summary["median_rank"] == 2.5
    assert summary["chance_mean_rank"] == 3.0
    assert summary["rank_distribution"] == {"1": 1, "2": 1, "3": 1, "4": 0, "5": 1}
    assert summary["n_evaluated"] == 4 and summary["n_parse_failures"] == 1


def test_detection_scores_on_a_hand_built_case():
    kinds = ["positive", "positive", "random_negative", "hard_negative", "hard_negative"]
    scores = detection_scores(kinds, [0.9, 0.6, 0.1, 0.7, 0.2], threshold=0.5)
    assert scores["auroc_random"] == 1.0
    assert scores["auroc_hard"] == 0.75
    assert scores["auroc"] == pytest.approx(5 / 6)
    assert scores["balanced_accuracy"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert math.isnan(detection_scores(["positive", "random_negative"], [1, 0], 0.5)["auroc_hard"])


def test_the_metadata_matcher_rewards_specific_agreement():
    liver = SampleMeta("ct", "axial", "f", 70.0, (("liver", 1),), None, 1.0, frozenset({"liver"}))
    label = {
        "modality": "ct",
        "orientation": "coronal",
        "sex": "any",
        "age_group": "older",
        "key_structures": ["liver", "brain", "no such organ"],
    }
    assert label_fit(label, liver) == pytest.approx((1 + 0 + 0.5 + 1 + 0.5) / 5)
    vague = label | {"modality": "any", "orientation": "any", "age_group": "any"}
    assert label_fit(vague | {"key_structures": []}, liver) == 0.5
    specific = vague | {"modality": "ct", "key_structures": ["liver"]}
    assert label_fit(specific, liver) > label_fit(vague | {"modality": "ct"}, liver)


def test_one_slice_per_scan_and_negatives_that_do_not_fire():
    scans = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    found = top_per_scan(
        Activations(np.array([0, 1, 2, 4]), np.array([0.5, 0.9, 0.9, 0.1])), scans, 5
    )
    assert found.rows.tolist() == [1, 2, 4]
    index = pl.DataFrame(
        {
            "modality": ["ct"] * 6 + ["mri"] * 2,
            "structure_liver": [True, True, False, True, True, False, True, True],
        }
    )
    rng = np.random.default_rng(0)
    negatives = sample_negatives(
        np.array([0, 1]), np.arange(8), index, scans, ("ct", "liver"), (2, 2), rng
    )
    assert not set(negatives.random) & {0, 1}
    assert set(negatives.hard) <= {3, 4}


@pytest.fixture(scope="module")
def offline_labels(world):
    settings = SelectionSettings(
        "frequency_enrichment", 8, 4, 5, 3, ("train",), True, "monosemanticity_10", 0
    )
    selection, picks = choose_features(
        world["stats"], world["top_slices"], world["enrichment"], None, settings
    )
    labeller = OfflineLabeller(consistency=0.8, region_share=0.6)
    return label_selection(selection, picks, world["index"], labeller, None, None)[0]


def test_offline_evaluation_of_the_tiny_run(world, offline_labels, tmp_path):
    judge = make_judge("offline", None, True, str(tmp_path))
    table, summary = evaluate_labels(
        offline_labels, world["index"], world["store"], judge, None, SETTINGS
    )
    assert table.height == offline_labels.height
    planted = table.filter(pl.col("feature").is_in(world["planted"]))
    assert planted["success"].sum() >= 4
    assert (planted["auroc_random"] >= 0.75).all()
    contrastive = summary["all"]["contrastive"]
    assert contrastive["chance_success_rate"] == pytest.approx(0.4)
    assert contrastive["n_parse_failures"] == 0
    assert contrastive["success_rate"] > 0.4
    assert set(summary) == {"all", "top", "random"}
    assert "no language model" in judge.summary(table.height)["note"]
    again, _ = evaluate_labels(
        offline_labels, world["index"], world["store"], judge, None, SETTINGS
    )
    assert again.equals(table)


def judge_answers(params: dict) -> str:
    text = json.dumps(params["messages"])
    if "Candidate descriptions" in text:
        if "brain" in text.split("Candidate descriptions")[1].split("\\n")[1]:
            return "A, B, C"
        return json.dumps({"ranking": ["A", "B", "C", "D", "E"]})
    n = text.count('"type": "image"')
    return json.dumps({"scores": [90] * n})


def test_the_anthropic_judge_reports_parse_failures_apart(
    world, offline_labels, tmp_path, fake_api
):
    fake_api.answer = judge_answers
    api = {
        "model": "claude-sonnet-4-6",
        "temperature": 0.0,
        "max_tokens": 200,
        "prompt_version": "v1",
        "max_attempts": 2,
        "max_retries": 2,
        "timeout_s": 30,
        "batch_min_requests": 10,
        "poll_interval_s": 0.001,
        "max_wait_s": 60,
        "base_url": fake_api.base_url,
        "batch_discount": 0.5,
    }
    judge = make_judge("anthropic", api, True, str(tmp_path))
    reader = SliceReader(world["run"] / "slices").read
    table, summary = evaluate_labels(
        offline_labels, world["index"], world["store"], judge, reader, SETTINGS
    )
    failed = table.filter(pl.col("contrastive_status") == "parse_failed")
    ranked = table.filter(pl.col("contrastive_status") == "ok")
    assert failed.height >= 1 and ranked.height >= 1
    assert (failed["contrastive_attempts"] == 2).all()
    assert failed["true_rank"].is_null().all()
    contrastive = summary["all"]["contrastive"]
    assert contrastive["n_parse_failures"] == failed.height
    assert contrastive["n_evaluated"] == ranked.height
    assert (table.filter(pl.col("detection_status") == "ok")["balanced_accuracy"] == 0.5).all()
    assert judge.summary(table.height)["requests"]["sent"] > 0
