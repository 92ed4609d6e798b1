import re

import pytest

from sail_core.embed import plan

ENCODERS = {
    "efficientnet": {"kind": "efficientnet_lite0", "dim": 1280},
    "dinov3": {"kind": "hf", "model_dir": "resources/models/dinov3", "model_id": "org/m",
               "revision": "a" * 40, "dim": 1024, "image_size": 1024,
               "resources": {"mem_mb": 32000}},
    "dinov3.local": {"kind": "hf", "model_dir": "/models/dinov3", "dim": 1024, "image_size": 1024},
    "biomedparse": {"kind": "biomedparse", "repo_dir": "/opt/bp", "checkpoint": "/opt/bp.pt",
                    "dim": 1536},
    "biomedparse_random": {"kind": "biomedparse", "repo_dir": "/opt/bp", "random_init": True,
                           "dim": 1536},
}  # fmt: skip
EMBEDDING = {"encoders": ENCODERS, "resources": {"mem_mb": 8000, "runtime": 60}}


def test_the_encoder_constraint_matches_exactly_the_configured_names():
    names = re.compile(plan.names_regex(ENCODERS))
    assert all(names.fullmatch(name) for name in ENCODERS)
    assert not names.fullmatch("dinov3xlocal")


def test_a_constraint_for_no_encoder_matches_nothing():
    assert not re.fullmatch(plan.names_regex([]), "anything")
    assert not re.fullmatch(plan.names_regex([]), "")


def test_only_encoders_pointing_at_the_download_folder_are_downloaded():
    assert plan.downloaded_encoders(ENCODERS) == ["dinov3"]
    assert plan.download_source("dinov3", ENCODERS["dinov3"]) == {
        "model_id": "org/m", "revision": "a" * 40,
    }  # fmt: skip
    with pytest.raises(ValueError, match="embedding.encoders.x: .*model_id and revision"):
        plan.download_source("x", {"model_dir": "resources/models/x"})


def test_job_params_change_with_the_encoder_settings_but_not_its_operational_ones():
    spec = ENCODERS["dinov3"] | {"batch_size": 8, "num_workers": 2}
    assert plan.job_params("dinov3", spec) == {
        k: v for k, v in spec.items() if k not in ("resources", "batch_size", "num_workers")
    }
    for operational in ({"resources": {"mem_mb": 1}}, {"batch_size": 64}, {"num_workers": 0}):
        assert plan.job_params("dinov3", spec | operational) == plan.job_params("dinov3", spec)
    assert plan.job_params("dinov3", spec | {"image_size": 512}) != plan.job_params("dinov3", spec)


def test_resources_fall_back_to_the_section_defaults():
    assert plan.job_resource(EMBEDDING, "dinov3", "mem_mb") == 32000
    assert plan.job_resource(EMBEDDING, "dinov3", "runtime") == 60
    assert plan.job_resource(EMBEDDING, "efficientnet", "mem_mb") == 8000


def test_model_files_are_job_inputs():
    assert plan.model_inputs(ENCODERS["dinov3.local"]) == ["/models/dinov3"]
    assert plan.model_inputs(ENCODERS["biomedparse"]) == ["/opt/bp", "/opt/bp.pt"]
    assert plan.model_inputs(ENCODERS["biomedparse_random"]) == ["/opt/bp"]
    assert plan.model_inputs(ENCODERS["efficientnet"]) == []
