import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from sail_core.label.cache import make_request
from sail_core.label.evidence import FeatureEvidence, SampleMeta, png_bytes, sample_meta
from sail_core.label.prompt import RequestSettings, label_request, render_request

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = RequestSettings(model="claude-sonnet-4-6", max_tokens=400, temperature=0.0)


def fixed_evidence() -> FeatureEvidence:
    samples = (
        SampleMeta("ct", "axial", "m", 71.0, (("liver", 1), ("spleen", 1)), None, 0.91234),
        SampleMeta("ct", "axial", "f", 66.4, (("liver", 1),), "tumor", 0.80001),
        SampleMeta("ct", "coronal", None, None, (), None, 0.5),
    )
    return FeatureEvidence(7, samples, (b"png one", b"png two", b"png three"))


def test_label_prompt_matches_the_golden_text():
    text = render_request(label_request(fixed_evidence(), SETTINGS))
    golden = GOLDEN / "feature_00007.txt"
    if os.environ.get("SAIL_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_label_request_is_deterministic():
    first = make_request(label_request(fixed_evidence(), SETTINGS), "v1")
    second = make_request(label_request(fixed_evidence(), SETTINGS), "v1")
    assert first.params == second.params
    assert first.key == second.key


def test_instructions_too_short_to_cache_carry_no_breakpoint_but_the_schema():
    params = label_request(fixed_evidence(), SETTINGS)
    assert "cache_control" not in params["system"][0]
    assert params["output_config"]["format"]["type"] == "json_schema"
    content = params["messages"][0]["content"]
    assert [block["type"] for block in content] == ["image", "image", "image", "text"]


def test_metadata_block_holds_no_identifiers_and_only_informative_pathology():
    row = {
        "modality": "ct",
        "image_id": "s0042",
        "orientation": "axial",
        "gender": "f",
        "age": 58.0,
        "institute": "Hospital-X",
        "scanner_model": "Skyra-9",
        "pathology": "no_pathology",
        "structure_liver": True,
        "structure_rib_left_1": True,
        "structure_rib_left_2": True,
        "structure_skull": False,
    }
    evidence = FeatureEvidence(1, (sample_meta(row, 0.4),))
    text = label_request(evidence, SETTINGS)["messages"][0]["content"][-1]["text"]
    for secret in ("s0042", "Hospital-X", "Skyra-9", "no_pathology", "skull"):
        assert secret not in text
    assert "3 structures in 2 regions: rib cage (2), liver (1)" in text
    tumour = FeatureEvidence(1, (sample_meta(row | {"pathology": "tumor"}, 0.4),))
    assert "Pathology: tumor" in render_request(label_request(tumour, SETTINGS))


def test_slices_become_pngs_of_the_configured_size():
    pixels = np.add.outer(np.arange(32), np.arange(32)).astype(np.uint8)
    image = Image.open(io.BytesIO(png_bytes(pixels, 64)))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (64, 64))
    assert Image.open(io.BytesIO(png_bytes(pixels, None))).size == (32, 32)
