"""The labelling request: fixed instructions and one feature's evidence."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from anthropic import transform_schema

from sail_core.label.cache import digest_images
from sail_core.label.evidence import FeatureEvidence, SampleMeta
from sail_core.label.models import estimated_tokens, model_info
from sail_core.label.schema import LABEL_SCHEMA

LABEL_INSTRUCTIONS = """\
You are an expert radiologist who names the features of a sparse autoencoder trained on \
embeddings of CT and MRI slices. A good feature is monosemantic: it responds to one concept. \
You are shown the slices on which one feature fired most strongly, each with its metadata.

Task: name the single concept shared by all samples, focusing on anatomy and imaging \
characteristics.

Guidelines:
- Describe the concept the feature detects, not the individual pictures.
- Rely on the metadata first and use the images as support.
- Group minor structures into regions; name at most three key structures or regions.
- Include modality, orientation, sex or age only when they are consistent across the samples.
- Mention a pathology only when the metadata show the same one consistently.
- Never mention sample numbers or activation values.

Answer with one JSON object:
- "label": one phrase of at most 12 words without preamble, in the style of the examples.
- "key_structures": the at most three key structures or regions the label names, spelled as \
in the metadata.
- "modality": "ct" or "mri" when all samples share it, else "any".
- "orientation": "axial", "coronal" or "sagittal" when all samples share it, else "any".
- "sex": "male" or "female" when all samples share it, else "any".
- "age_group": "younger" (under 40) or "older" (65 and over) when all samples share it, else \
"any".

Example labels:
- Coronal CT of the thorax and mediastinum
- Axial CT of the skull and brain
- Sagittal MRI of the lumbar spine and paraspinal muscles
- Axial CT of the pelvis in older female patients"""


@dataclass(frozen=True)
class RequestSettings:
    model: str
    max_tokens: int
    temperature: float | None


def readable(name: str) -> str:
    return name.replace("_", " ")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe_sample(number: int, sample: SampleMeta, with_activation: bool = True) -> str:
    sex = {"m": "male", "f": "female"}.get(sample.sex or "", "unknown")
    age = f"{round(sample.age)} years" if sample.age is not None else "unknown"
    head = (
        f"Sample {number}: {sample.modality.upper()}, {sample.orientation}; sex: {sex}; age: {age}"
    )
    if with_activation:
        head += f"; activation: {sample.activation:.3f}"
    lines = [head]
    n_structures = sum(count for _, count in sample.regions)
    if sample.regions:
        regions = ", ".join(f"{readable(region)} ({count})" for region, count in sample.regions)
        lines.append(
            f"  Anatomy: {plural(n_structures, 'structure')} in "
            f"{plural(len(sample.regions), 'region')}: {regions}"
        )
    else:
        lines.append("  Anatomy: no segmented structure")
    if sample.pathology:
        lines.append(f"  Pathology: {sample.pathology}")
    return "\n".join(lines)


def evidence_text(evidence: FeatureEvidence) -> str:
    n = len(evidence.samples)
    shown = "shown above in the same order" if evidence.images else "images not shown"
    header = f"The feature fired most strongly on these {n} slices, one per scan ({shown})."
    return "\n\n".join(
        [header, *(describe_sample(i + 1, s) for i, s in enumerate(evidence.samples))]
    )


def image_block(png: bytes) -> dict:
    data = base64.standard_b64encode(png).decode("ascii")
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}


def request_params(
    settings: RequestSettings, instructions: str, content: list[dict], schema: dict
) -> dict:
    """Messages API parameters for the configured model.

    The instructions carry a prompt-cache breakpoint only when they reach the model's minimum
    cacheable length (shorter prefixes are never cached, so marking them would only suggest a
    saving that does not happen); sampling settings are left out for models that reject them.
    """
    model = model_info(settings.model)
    system = {"type": "text", "text": instructions}
    if estimated_tokens(instructions) >= model.min_cache_tokens:
        system["cache_control"] = {"type": "ephemeral"}
    params = {
        "model": settings.model,
        "max_tokens": settings.max_tokens,
        "system": [system],
        "messages": [{"role": "user", "content": content}],
        "output_config": {"format": {"type": "json_schema", "schema": transform_schema(schema)}},
    }
    if settings.temperature is not None and model.accepts_sampling:
        params["temperature"] = settings.temperature
    return params


def label_request(evidence: FeatureEvidence, settings: RequestSettings) -> dict:
    content = [image_block(png) for png in evidence.images]
    content.append({"type": "text", "text": evidence_text(evidence)})
    return request_params(settings, LABEL_INSTRUCTIONS, content, LABEL_SCHEMA)


def render_request(params: dict) -> str:
    """The request as plain text (images as size and digest), for review and golden tests."""
    shown = digest_images(params)
    parts = [f"[model] {shown['model']}"]
    parts += [f"[system]\n{block['text']}" for block in shown["system"]]
    for message in shown["messages"]:
        for block in message["content"]:
            if block["type"] == "text":
                parts.append(f"[{message['role']}]\n{block['text']}")
            else:
                image = block["source"]
                parts.append(f"[{message['role']} image] {image['bytes']} bytes, {image['sha256']}")
    return "\n\n".join(parts) + "\n"
