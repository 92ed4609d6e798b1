import json

import pytest

from sail_core.label.labels import tidy_label
from sail_core.label.schema import LABEL_SCHEMA, AnswerError, parse_json_answer

VALID = {
    "label": "Axial CT of the liver and spleen",
    "key_structures": ["liver", "spleen"],
    "modality": "ct",
    "orientation": "axial",
    "sex": "any",
    "age_group": "older",
}


def test_a_valid_answer_parses_also_inside_a_code_fence():
    assert parse_json_answer(json.dumps(VALID), LABEL_SCHEMA) == VALID
    fenced = f"```json\n{json.dumps(VALID)}\n```"
    assert parse_json_answer(fenced, LABEL_SCHEMA) == VALID


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"label": "Axial CT of', "not valid JSON"),
        ("", "not valid JSON"),
        (json.dumps({k: v for k, v in VALID.items() if k != "sex"}), "'sex' is a required"),
        (json.dumps(VALID | {"key_structures": ["a", "b", "c", "d"]}), "key_structures"),
        (json.dumps(VALID | {"modality": "pet"}), "modality"),
        (json.dumps(VALID | {"extra": 1}), "Additional properties"),
        (json.dumps(VALID | {"label": "ab"}), "label"),
        (json.dumps([VALID]), "top level"),
    ],
)
def test_bad_answers_are_rejected_with_the_reason(text, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_json_answer(text, LABEL_SCHEMA)


@pytest.mark.parametrize(
    ("raw", "tidy"),
    [
        ('"coronal CT of the thorax"', "Coronal CT of the thorax"),
        ("These images show: axial CT of the pelvis", "Axial CT of the pelvis"),
        ("All slices depict predominantly sagittal MRI", "Sagittal MRI"),
        ("Axial CT of the skull and brain", "Axial CT of the skull and brain"),
    ],
)
def test_labels_lose_quotes_and_boilerplate(raw, tidy):
    assert tidy_label(raw) == tidy
