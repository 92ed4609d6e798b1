import socket

import pytest
import torch
from torch import nn
from transformers import DINOv3ViTConfig, DINOv3ViTModel, ViTConfig

from sail_core.embed.encoder import EncoderError
from sail_core.embed.preprocessing import Preprocessing
from sail_core.embed.registry import build_encoder

CPU = torch.device("cpu")


@pytest.fixture
def no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def saved_dinov3(tmp_path, tiny_dinov3_spec):
    options = {k: v for k, v in tiny_dinov3_spec["architecture"].items() if k != "model_type"}
    torch.manual_seed(0)
    model = DINOv3ViTModel(DINOv3ViTConfig(**options)).eval()
    model.save_pretrained(tmp_path / "dinov3")
    return tmp_path / "dinov3", model


def hf_spec(model_dir, **extra):
    return {"kind": "hf", "model_dir": str(model_dir), "dim": 64, "image_size": 64,
            "precision": "fp32", **extra}  # fmt: skip


def slices(n=3, size=32, seed=0):
    return torch.randint(0, 256, (n, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))  # fmt: skip


def reference_tokens(model, batch):
    with torch.no_grad():
        return model(pixel_values=Preprocessing(64)(batch))


def test_local_folder_loads_offline_and_embeds_the_normalised_cls_token(saved_dinov3, no_network):
    model_dir, model = saved_dinov3
    encoder = build_encoder("dinov3", hf_spec(model_dir), CPU)
    batch = slices()
    embeddings = encoder.encode(batch)
    output = reference_tokens(model, batch)
    assert embeddings.shape == (3, 64) and embeddings.dtype == torch.float32
    torch.testing.assert_close(embeddings, output.pooler_output)
    torch.testing.assert_close(embeddings, output.last_hidden_state[:, 0])
    assert encoder.attrs()["pooling"] == "cls"


def test_patch_mean_leaves_out_cls_and_register_tokens(saved_dinov3, no_network):
    model_dir, model = saved_dinov3
    encoder = build_encoder("dinov3", hf_spec(model_dir, pooling="patch_mean"), CPU)
    batch = slices()
    tokens = reference_tokens(model, batch).last_hidden_state
    assert tokens.shape[1] == 1 + 4 + (64 // 16) ** 2
    embeddings = encoder.encode(batch)
    torch.testing.assert_close(embeddings, tokens[:, 5:].mean(dim=1))
    assert not torch.allclose(embeddings, tokens[:, 1:].mean(dim=1), atol=1e-4)


def test_missing_model_folder_is_an_error_naming_the_encoder(tmp_path):
    with pytest.raises(EncoderError, match=r"encoder 'dinov3'.*does not exist"):
        build_encoder("dinov3", hf_spec(tmp_path / "absent"), CPU)


def test_wrong_model_type_is_an_error_naming_the_encoder(tmp_path):
    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(
        tmp_path / "vit"
    )
    with pytest.raises(EncoderError, match=r"encoder 'dinov3'.*'vit' model"):
        build_encoder("dinov3", hf_spec(tmp_path / "vit"), CPU)


def test_random_baseline_is_a_function_of_its_seed(tiny_dinov3_spec):
    batch = slices()
    first = build_encoder("random", tiny_dinov3_spec, CPU).encode(batch)
    again = build_encoder("random", tiny_dinov3_spec, CPU).encode(batch)
    other = build_encoder("random", {**tiny_dinov3_spec, "seed": 4}, CPU).encode(batch)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.allclose(first, other)


def test_random_baseline_uses_the_study_initialisation(tiny_dinov3_spec):
    model = build_encoder("random", tiny_dinov3_spec, CPU).model
    linear = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    weights = torch.cat([m.weight.flatten() for m in linear])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
    assert all(m.bias is None or not m.bias.any() for m in linear)
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert norms and all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in norms)


def test_random_architecture_with_a_typo_is_refused(tiny_dinov3_spec):
    architecture = {**tiny_dinov3_spec["architecture"], "hiden_size": 32}
    with pytest.raises(EncoderError, match="hiden_size"):
        build_encoder("random", {**tiny_dinov3_spec, "architecture": architecture}, CPU)
