"""JSON answers of the language model: schemas, and parsing that says exactly what was wrong."""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator

ANY = "any"

LABEL_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label", "key_structures", "modality", "orientation", "sex", "age_group"],
    "properties": {
        "label": {"type": "string", "minLength": 3, "maxLength": 160},
        "key_structures": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "maxItems": 3,
        },
        "modality": {"enum": ["ct", "mri", ANY]},
        "orientation": {"enum": ["axial", "coronal", "sagittal", ANY]},
        "sex": {"enum": ["male", "female", ANY]},
        "age_group": {"enum": ["younger", "older", ANY]},
    },
}

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class AnswerError(ValueError):
    """A model answer that is not the JSON asked for; the message says why."""


def parse_json_answer(text: str, schema: dict) -> dict:
    """The JSON object in `text`, validated against `schema` (a code fence is tolerated)."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as err:
        raise AnswerError(f"not valid JSON ({err.msg} at position {err.pos})") from err
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: e.path)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise AnswerError(f"does not match the schema at {where}: {first.message}")
    return value
