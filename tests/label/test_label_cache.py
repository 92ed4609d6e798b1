import copy

import pytest

from sail_core.label.cache import ResponseCache, make_request
from sail_core.label.evidence import FeatureEvidence, SampleMeta
from sail_core.label.prompt import RequestSettings, label_request

SETTINGS = RequestSettings(model="claude-sonnet-4-6", max_tokens=400, temperature=0.0)
SAMPLE = SampleMeta("ct", "axial", "m", 70.0, (("liver", 1),), None, 0.9)


def request(evidence=None, settings=SETTINGS, prompt_version="v1"):
    evidence = evidence or FeatureEvidence(3, (SAMPLE,), (b"image bytes",))
    return make_request(label_request(evidence, settings), prompt_version)


def test_the_key_is_stable_for_equal_inputs_and_any_dict_order():
    first = request()
    reordered = make_request(dict(reversed(list(first.params.items()))), "v1")
    assert first.key == request().key == reordered.key


@pytest.mark.parametrize(
    "changed",
    [
        lambda: request(settings=RequestSettings("claude-haiku-4-5", 400, 0.0)),
        lambda: request(settings=RequestSettings("claude-sonnet-4-6", 401, 0.0)),
        lambda: request(settings=RequestSettings("claude-sonnet-4-6", 400, 0.3)),
        lambda: request(settings=RequestSettings("claude-sonnet-4-6", 400, None)),
        lambda: request(prompt_version="v2"),
        lambda: request(FeatureEvidence(3, (SAMPLE,), (b"image bytez",))),
        lambda: request(FeatureEvidence(3, (SAMPLE,), (b"image bytes", b"second"))),
        lambda: request(FeatureEvidence(3, (SampleMeta("ct", "axial", "f", 70.0, (), None, 0.9),))),
    ],
    ids=[
        "model",
        "max_tokens",
        "temperature",
        "no_temperature",
        "prompt",
        "image",
        "images",
        "meta",
    ],
)
def test_the_key_changes_with_every_input(changed):
    assert changed().key != request().key


def test_the_feature_number_is_not_part_of_the_request():
    other = FeatureEvidence(99, (SAMPLE,), (b"image bytes",))
    assert request(other).key == request().key


def test_cache_entries_keep_prompts_in_full_and_images_as_digests(tmp_path):
    cache = ResponseCache(tmp_path)
    req = request()
    original = copy.deepcopy(req.params)
    cache.put(req.record(), {"content": [], "usage": {}}, "messages")
    stored = cache.get(req.key)
    assert stored["request"]["messages"][0]["content"][0]["source"]["bytes"] == 11
    assert "data" not in stored["request"]["messages"][0]["content"][0]["source"]
    assert stored["request"]["system"] == original["system"]
    assert req.params == original
    assert cache.get("0" * 64) is None
