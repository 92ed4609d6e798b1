"""The real SDK against a local fake of the Messages and Message Batches endpoints."""

import base64
import io
import logging

import anthropic
import numpy as np
import pytest
from PIL import Image

from sail_core.data.store import SliceReader
from sail_core.io import write_json, write_parquet
from sail_core.label.api import MissingApiKeyError
from sail_core.label.cache import ResponseCache
from sail_core.label.evidence import FeatureEvidence, SampleMeta, png_bytes
from sail_core.label.labels import OK, PARSE_FAILED
from sail_core.label.run import (
    SelectionSettings,
    choose_features,
    label_selection,
    make_labeller,
)
from sail_core.label.usage import TOKEN_FIELDS, response_cost

PRICES = {"input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.30}


def api_params(fake, batch_min_requests=1000, max_attempts=3):
    return {
        "model": "claude-sonnet-4-6",
        "temperature": 0.0,
        "max_tokens": 400,
        "prompt_version": "v1",
        "max_attempts": max_attempts,
        "max_retries": 4,
        "timeout_s": 30,
        "batch_min_requests": batch_min_requests,
        "poll_interval_s": 0.001,
        "max_wait_s": 60,
        "base_url": fake.base_url,
        "batch_discount": 0.5,
    }


def labeller(fake, cache_dir, **kwargs):
    return make_labeller("anthropic", {}, api_params(fake, **kwargs), str(cache_dir))


def evidence_set(n: int, n_images: int = 2, image_px: int = 32) -> list[FeatureEvidence]:
    items = []
    for feature in range(n):
        modality = "mri" if feature % 3 == 0 else "ct"
        samples = tuple(
            SampleMeta(modality, "axial", "m", 40.0 + feature, (("liver", 1),), None, 0.9 - i / 10)
            for i in range(n_images)
        )
        images = tuple(
            png_bytes(np.full((8, 8), 10 * feature + i, np.uint8), image_px)
            for i in range(n_images)
        )
        items.append(FeatureEvidence(feature, samples, images))
    return items


def all_ok(labels) -> bool:
    return all(label.status == OK for label in labels)


def test_retries_on_429_and_500_and_a_rerun_asks_nothing(fake_api, tmp_path):
    fake_api.message_faults.extend([(429, "0.01"), (500,), (429, "0.01")])
    evidence = evidence_set(4)
    labels, usage = labeller(fake_api, tmp_path).label(evidence)
    assert all_ok(labels)
    assert labels[1].label == "Axial CT of the liver and spleen"
    assert fake_api.message_calls == 4 + 3
    assert len(fake_api.asked) == 4 and set(fake_api.asked.values()) == {1}
    assert usage["requests"] == {"total": 4, "sent": 4, "from_cache": 0, "via_batch": 0}

    again, usage = labeller(fake_api, tmp_path).label(evidence)
    assert [label.label for label in again] == [label.label for label in labels]
    assert fake_api.message_calls == 7
    assert usage["requests"]["from_cache"] == 4 and usage["cost_usd_sent_this_run"] == 0


def test_a_malformed_answer_is_followed_up_in_the_conversation(fake_api, tmp_path):
    fake_api.message_faults.append(("malformed",))
    labels, _ = labeller(fake_api, tmp_path).label(evidence_set(1))
    assert labels[0].status == OK
    assert len(labels[0].cache_keys) == 2
    assert len(fake_api.asked) == 2


def test_answers_that_never_parse_are_reported_not_invented(fake_api, tmp_path):
    good = fake_api.answer
    fake_api.answer = lambda params: (
        "I think it is the liver." if ": MRI," in str(params) else good(params)
    )
    labels, _ = labeller(fake_api, tmp_path, max_attempts=2).label(evidence_set(3))
    assert [label.status for label in labels] == [PARSE_FAILED, OK, OK]
    assert "not valid JSON" in labels[0].error
    assert len(labels[0].cache_keys) == 2


def test_a_batch_asks_every_request_once(fake_api, tmp_path):
    evidence = evidence_set(5)
    labels, usage = labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert all_ok(labels)
    assert len(fake_api.batches) == 1 and fake_api.message_calls == 0
    assert len(fake_api.batch_submissions) == 5
    assert set(fake_api.batch_submissions.values()) == {1}
    assert usage["requests"]["via_batch"] == 5
    assert not list((tmp_path / "batches").glob("*.json"))

    labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert len(fake_api.batches) == 1 and fake_api.message_calls == 0


def test_a_crash_while_polling_resumes_the_recorded_batch(fake_api, tmp_path):
    fake_api.retrieve_faults.append(1)
    evidence = evidence_set(5)
    with pytest.raises(anthropic.InternalServerError):
        labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert len(list((tmp_path / "batches").glob("*.json"))) == 1

    labels, _ = labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert all_ok(labels)
    assert len(fake_api.batches) == 1 and fake_api.message_calls == 0
    assert set(fake_api.batch_submissions.values()) == {1}
    assert not list((tmp_path / "batches").glob("*.json"))


def test_a_crash_while_collecting_keeps_what_was_stored(fake_api, tmp_path, monkeypatch):
    original_put = ResponseCache.put
    stored = []

    def put_then_die(self, record, message, via):
        if len(stored) == 2:
            raise KeyboardInterrupt
        stored.append(record["key"])
        return original_put(self, record, message, via)

    monkeypatch.setattr(ResponseCache, "put", put_then_die)
    evidence = evidence_set(5)
    with pytest.raises(KeyboardInterrupt):
        labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert len(list(tmp_path.glob("*.json"))) == 2
    monkeypatch.setattr(ResponseCache, "put", original_put)

    labels, _ = labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert all_ok(labels)
    assert len(list(tmp_path.glob("*.json"))) == 5
    assert len(fake_api.batches) == 1 and set(fake_api.batch_submissions.values()) == {1}
    assert fake_api.message_calls == 0


def test_errored_batch_requests_are_asked_again_one_by_one(fake_api, tmp_path):
    evidence = evidence_set(4)
    first = labeller(fake_api, tmp_path / "probe").label(evidence[:1])[0][0]
    fake_api.errored_custom_ids = {first.cache_keys[0]}
    fake_api.message_calls = 0
    labels, usage = labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence)
    assert all_ok(labels)
    assert fake_api.message_calls == 1
    assert set(fake_api.batch_submissions.values()) == {1}
    assert usage["requests"]["via_batch"] == 3


@pytest.fixture
def debug_log(tmp_path):
    """Everything the SDK and this code log, at DEBUG, into a file under tmp_path."""
    handler = logging.FileHandler(tmp_path / "label.log")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


def test_the_api_key_never_reaches_a_written_file(world, fake_api, tmp_path, debug_log):
    settings = SelectionSettings(
        "frequency_enrichment", 3, 1, 5, 3, ("train",), True, "monosemanticity_10", 0
    )
    selection, picks = choose_features(
        world["stats"], world["top_slices"], world["enrichment"], None, settings
    )
    reader = SliceReader(world["run"] / "slices").read
    fake_api.message_faults.append((429, "0.01"))
    for name, batch_min_requests in (("direct", 1000), ("batch", 1)):
        run = labeller(fake_api, tmp_path / name / "cache", batch_min_requests=batch_min_requests)
        labels, usage = label_selection(selection, picks, world["index"], run, reader, 32)
        write_parquet(labels, tmp_path / name / "anthropic.parquet")
        write_json(tmp_path / name / "anthropic.usage.json", usage)
    assert fake_api.batches and fake_api.message_calls == 5
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 13
    assert "HTTP Request: POST" in (tmp_path / "label.log").read_text()
    assert fake_api.key in fake_api.keys_seen
    for path in written:
        assert fake_api.key.encode() not in path.read_bytes(), path


def test_without_a_key_the_labeller_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingApiKeyError, match="ANTHROPIC_API_KEY"):
        make_labeller("anthropic", {}, api_params(type("F", (), {"base_url": None})), str(tmp_path))


def test_cost_accounting_follows_the_usage_fields(fake_api, tmp_path):
    """Cost per 100 features with the demo settings: 5 slices per feature as 256 px PNGs."""
    evidence = evidence_set(10, n_images=5, image_px=256)
    _, direct = labeller(fake_api, tmp_path / "direct").label(evidence)
    fake_api.cached_prefixes.clear()
    _, batch = labeller(fake_api, tmp_path / "batch", batch_min_requests=1).label(evidence)

    records = [ResponseCache(tmp_path / "direct").get(k) for k in _keys(tmp_path / "direct")]
    expected = sum(response_cost(r["response"]["usage"], PRICES, 1.0) for r in records)
    assert direct["cost_usd"] == pytest.approx(expected, abs=1e-6)
    # The labelling instructions are shorter than the model's minimum cacheable length: no
    # cache breakpoint is sent and no cache saving is counted.
    assert direct["tokens"]["cache_creation_input_tokens"] == 0
    assert direct["tokens"]["cache_read_input_tokens"] == 0
    assert all("cache_control" not in r["request"]["system"][0] for r in records)
    assert sum(direct["tokens"][f] for f in TOKEN_FIELDS) == sum(
        r["response"]["usage"][f] for r in records for f in TOKEN_FIELDS
    )
    assert batch["cost_usd"] == pytest.approx(direct["cost_usd"] / 2, abs=1e-6)
    per_feature = {f: n / len(evidence) for f, n in direct["tokens"].items()}
    print(
        f"\ncost per 100 features: {direct['cost_usd_per_100_features']:.4f} USD "
        f"(one by one), {batch['cost_usd_per_100_features']:.4f} USD (batch); "
        f"tokens per feature: {per_feature}"
    )


def _keys(cache_dir):
    return [p.stem for p in cache_dir.glob("*.json")]


def test_each_feature_is_asked_with_its_slices_as_pngs(world, fake_api, tmp_path):
    settings = SelectionSettings(
        "frequency_enrichment", 3, 1, 5, 3, ("train",), True, "monosemanticity_10", 0
    )
    selection, picks = choose_features(
        world["stats"], world["top_slices"], world["enrichment"], None, settings
    )
    seen = []
    answer = fake_api.answer
    fake_api.answer = lambda params: seen.append(params) or answer(params)
    reader = SliceReader(world["run"] / "slices").read
    labels, usage = label_selection(
        selection, picks, world["index"], labeller(fake_api, tmp_path), reader, 96
    )
    assert labels.height == 4 and (labels["status"] == OK).all()
    assert usage["requests"]["sent"] == 4
    for params, n_samples in zip(seen, labels["n_samples"], strict=True):
        images = [b for b in params["messages"][0]["content"] if b["type"] == "image"]
        assert len(images) == n_samples
        png = base64.b64decode(images[0]["source"]["data"])
        assert Image.open(io.BytesIO(png)).size == (96, 96)
