import json

import pytest
import torch
import torch.nn.functional as F

from sail_core.sae import convert_study_checkpoint, load_sae
from tests.fixtures import write_study_checkpoint


def _study_checkpoint(path, with_hparams=True):
    return write_study_checkpoint(path, 10, [8, 32], [2, 4], with_hparams)


def test_study_checkpoint_converts_with_its_semantics(tmp_path):
    state = _study_checkpoint(tmp_path / "last.ckpt")
    convert_study_checkpoint(tmp_path / "last.ckpt", tmp_path / "sae")
    model = load_sae(tmp_path / "sae")
    assert model.spec.name == "D8-32_K2-4" and model.input_norm == "l2"

    x = torch.randn(20, 10)
    unit = F.normalize(x, dim=1)
    pre = (unit - state["model.bias"]) @ state["model.encoder.weight"].T + state[
        "model.encoder.bias"
    ]
    study_codes = (pre - 0.08).clamp(min=0)  # the study's shifted ReLU
    codes = model.encode(x)
    assert torch.equal(codes != 0, study_codes != 0)
    torch.testing.assert_close(codes[codes != 0], study_codes[codes != 0] + 0.08)
    tied = codes @ state["model.encoder.weight"] + state["model.bias"]
    torch.testing.assert_close(model.decode(codes), tied)

    config = json.loads((tmp_path / "sae" / "config.json").read_text())
    assert "shifted ReLU" in config["conversion"]["threshold"]
    assert config["threshold"] == pytest.approx(0.08)


def test_conversion_needs_the_structure_and_the_study_keys(tmp_path):
    _study_checkpoint(tmp_path / "a.ckpt", with_hparams=False)
    with pytest.raises(ValueError, match="give the name"):
        convert_study_checkpoint(tmp_path / "a.ckpt", tmp_path / "out")
    model = convert_study_checkpoint(tmp_path / "a.ckpt", tmp_path / "out", name="D8-32_K2-4")
    assert model.n_latents == 32
    with pytest.raises(ValueError, match="needs 64"):
        convert_study_checkpoint(tmp_path / "a.ckpt", tmp_path / "out2", name="D16-64_K2-4")
    torch.save({"state_dict": {"model.encoder.weight": torch.zeros(4, 2)}}, tmp_path / "b.ckpt")
    with pytest.raises(ValueError, match="missing"):
        convert_study_checkpoint(tmp_path / "b.ckpt", tmp_path / "out3", name="D4_K1")
