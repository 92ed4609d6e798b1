"""What the embedding rules take from the config, kept out of the Snakefiles so it is tested:
the encoder wildcard, and each job's params, resources and model inputs.

`encoders` is config["embedding"]["encoders"] (name -> spec), `embedding` the whole section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sail_core.operational_settings import result_settings

BIOMEDPARSE_KIND = "biomedparse"
DOWNLOADED_MODELS_DIR = "resources/models"


def names_regex(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly `names` ("(?!)" matches nothing)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def downloaded_encoders(encoders: dict) -> list[str]:
    """Encoders whose model_dir is what the `download_model` rule writes for them."""
    return [
        name
        for name, spec in encoders.items()
        if spec.get("model_dir") == f"{DOWNLOADED_MODELS_DIR}/{name}"
    ]


def job_params(encoder: str, spec: dict) -> dict:
    """The spec without its operational settings: exactly what changes the encoder's
    embeddings, so that editing one encoder reruns only its shards."""
    return result_settings(spec, f"embedding.encoders.{encoder}")


def job_resource(embedding: dict, encoder: str, key: str) -> int:
    own = embedding["encoders"][encoder].get("resources", {})
    return own.get(key, embedding["resources"][key])


def model_inputs(spec: dict) -> list[str]:
    """Local model files of an encoder: a job input, so a new download reruns its shards."""
    if spec["kind"] == BIOMEDPARSE_KIND:
        return [spec["repo_dir"]] + ([] if spec.get("random_init") else [spec["checkpoint"]])
    return [spec["model_dir"]] if "model_dir" in spec else []


def download_source(encoder: str, spec: dict) -> dict:
    """model_id and revision for `download_model`; both must be set in the encoder's spec."""
    missing = [key for key in ("model_id", "revision") if not spec.get(key)]
    if missing:
        raise ValueError(
            f"embedding.encoders.{encoder}: model_dir {spec['model_dir']} is written by the "
            f"download_model rule, which needs {' and '.join(missing)}"
        )
    return {"model_id": spec["model_id"], "revision": spec["revision"]}
